// Client-side routes: the path from the address bar and links that change it without reloading.
import { useCallback, useEffect, useState, type CSSProperties, type JSX, type ReactNode } from 'react';

/** The current path and a way to go elsewhere without reloading. */
export function usePath(): [string, (to: string) => void] {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const onPop = (): void => setPath(location.pathname);
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const go = useCallback((to: string) => {
    history.pushState(null, '', to);
    setPath(to);
    window.scrollTo(0, 0);
  }, []);
  return [path, go];
}

/** A link that navigates in the page. */
export function Link(props: { to: string; go: (to: string) => void; children: ReactNode; className?: string; testId?: string; style?: CSSProperties }): JSX.Element {
  return (
    <a
      href={props.to}
      className={props.className}
      style={props.style}
      data-testid={props.testId}
      onClick={(e) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        props.go(props.to);
      }}
    >
      {props.children}
    </a>
  );
}

