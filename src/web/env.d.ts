// Module declarations the bundler resolves (stylesheets imported for their side effect).
declare module '*.css';
