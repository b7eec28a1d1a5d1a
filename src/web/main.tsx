// The dashboard's entry: sign-in with a token, then the pages the account's role may see (the server scopes the
// data as well; the client only never offers another role's pages).
import { lazy, StrictMode, Suspense, useEffect, useState, type JSX } from 'react';
import { createRoot } from 'react-dom/client';
import type { Me } from '../protocol/platform.ts';
import { ApiError, get, saveRole, saveToken, savedToken } from './api.ts';
import { ME_PATH } from './prefetch.ts';
// The operator's fleet page is in the entry (it is the first paint of the busiest load); the other pages are
// chunks loaded when first shown.
import { Fleet } from './pages/Fleet.tsx';
import { Link, usePath } from './router.tsx';
import './style.css';

const Building = lazy(() => import('./pages/Building.tsx').then((m) => ({ default: m.Building })));
const Resident = lazy(() => import('./pages/Resident.tsx').then((m) => ({ default: m.Resident })));
const Customer = lazy(() => import('./pages/Customer.tsx').then((m) => ({ default: m.Customer })));
const Twin = lazy(() => import('./pages/Twin.tsx').then((m) => ({ default: m.Twin })));

function SignIn(props: { onSignedIn: (me: Me) => void; error?: string }): JSX.Element {
  const [token, setToken] = useState('');
  const [error, setError] = useState(props.error ?? '');
  const [busy, setBusy] = useState(false);
  return (
    <main className="signin">
      <h1>hearth</h1>
      <p className="muted">Compute that heats homes. Sign in with your API token.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          saveToken(token.trim());
          get<Me>(ME_PATH)
            .then((me) => {
              saveRole(me);
              props.onSignedIn(me);
            })
            .catch((err: unknown) => {
              saveToken(null);
              setError(err instanceof ApiError && err.status === 401 ? 'That token is not valid.' : String((err as Error).message));
            })
            .finally(() => setBusy(false));
        }}
      >
        <label>
          Token
          <input name="token" type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} data-testid="token" />
        </label>
        <button type="submit" disabled={busy || token.trim() === ''} data-testid="sign-in">
          Sign in
        </button>
        {error && <p className="error" role="alert">{error}</p>}
      </form>
    </main>
  );
}

function Nav(props: { me: Me; path: string; go: (to: string) => void; onSignOut: () => void }): JSX.Element {
  const { me, go } = props;
  const links: Array<[string, string]> = [];
  if (me.role === 'operator') links.push(['/', 'Fleet'], ['/twin', 'Twin']);
  else if (me.role === 'resident') {
    links.push(['/', 'My room']);
    for (const s of me.hostSiteIds) links.push([`/sites/${encodeURIComponent(s)}`, 'My building']);
  } else if (me.role === 'customer') links.push(['/', 'My tasks']);
  return (
    <header className="nav">
      <strong className="brand">hearth</strong>
      <nav>
        {links.map(([to, label]) => (
          <Link key={to} to={to} go={go} className={props.path === to ? 'active' : undefined}>
            {label}
          </Link>
        ))}
      </nav>
      <span className="who" data-testid="who">
        {me.email} · {me.role}
      </span>
      <button type="button" className="link" onClick={props.onSignOut} data-testid="sign-out">
        Sign out
      </button>
    </header>
  );
}

/** The page of a path for a role, or undefined when the role may not see it. */
function pageFor(me: Me, path: string, go: (to: string) => void): JSX.Element | undefined {
  const site = /^\/sites\/([^/]+)$/.exec(path);
  switch (me.role) {
    case 'operator':
      if (path === '/') return <Fleet go={go} />;
      if (site) return <Building siteId={decodeURIComponent(site[1])} />;
      if (path === '/twin') return <Twin />;
      return undefined;
    case 'resident':
      if (path === '/') return <Resident me={me} />;
      if (site && me.hostSiteIds.includes(decodeURIComponent(site[1]))) return <Building siteId={decodeURIComponent(site[1])} />;
      return undefined;
    case 'customer':
      if (path === '/') return <Customer />;
      return undefined;
    default:
      return path === '/' ? <p className="muted">This account ({me.role}) has no dashboard.</p> : undefined;
  }
}

function App(): JSX.Element {
  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(savedToken() !== null);
  const [error, setError] = useState<string | undefined>();
  const [path, go] = usePath();
  useEffect(() => {
    if (savedToken() === null) return;
    get<Me>(ME_PATH)
      .then((me) => {
        saveRole(me);
        setMe(me);
      })
      .catch((err: unknown) => {
        saveToken(null);
        setError(err instanceof ApiError && err.status === 401 ? 'Your session ended: sign in again.' : String((err as Error).message));
      })
      .finally(() => setChecking(false));
  }, []);
  if (checking) return <p className="muted">Loading…</p>;
  if (!me) return <SignIn onSignedIn={setMe} error={error} />;
  const page = pageFor(me, path, go);
  return (
    <>
      <Nav
        me={me}
        path={path}
        go={go}
        onSignOut={() => {
          saveToken(null);
          setMe(null);
          go('/');
        }}
      />
      <main className="page" data-role={me.role}>
        <Suspense fallback={<p className="muted">Loading…</p>}>
          {page ?? (
            <p className="error" data-testid="not-allowed">
              This page is not available to your account. <Link to="/" go={go}>Back</Link>
            </p>
          )}
        </Suspense>
      </main>
    </>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
