// The dashboard's first API calls, started by a small inline script in index.html while the bundle still loads
// and compiles (vite.config.ts writes it there), then taken once by api.ts: a load is no longer a waterfall of
// bundle → /me → the page's data. The role of the last /me is remembered for the tab so that only an operator's
// (or an unknown role's) reload asks for the fleet; the server scopes or refuses every answer anyway.
// No DOM types here: vite.config.ts imports this file too.

/** sessionStorage key of the API token. */
export const TOKEN_KEY = 'hearth.token';
/** sessionStorage key of the role the token had at the last /me (a hint for the prefetch only). */
export const ROLE_KEY = 'hearth.role';
export const ME_PATH = '/hearth/v1/me';
/**
 * What the operator's fleet page needs before its tiles can be drawn: one compact columnar answer (names, sites,
 * boards and latest figures; 107 KB for 1,010 devices where heaters, boilers, rooms, sites and fleet/latest made
 * 759 KB), revalidated by ETag.
 */
export const FLEET_TILES_PATH = '/hearth/v1/fleet/tiles';
export const FLEET_FIRST_PATHS = [FLEET_TILES_PATH] as const;
/** The global the inline script leaves its requests on: path → response, with the token they were sent with. */
export const PREFETCH_GLOBAL = '__hearthPrefetch';

/** The inline script (classic, runs while the HTML is parsed). */
export function prefetchScript(): string {
  return `(function () {
  try {
    var token = sessionStorage.getItem(${JSON.stringify(TOKEN_KEY)});
    if (!token) return;
    var role = sessionStorage.getItem(${JSON.stringify(ROLE_KEY)});
    var paths = [${JSON.stringify(ME_PATH)}];
    if (location.pathname === '/' && (role === null || role === 'operator')) paths = paths.concat(${JSON.stringify(FLEET_FIRST_PATHS)});
    var responses = {};
    paths.forEach(function (p) { responses[p] = fetch(p, { headers: { authorization: token } }); responses[p].catch(function () {}); });
    window[${JSON.stringify(PREFETCH_GLOBAL)}] = { token: token, responses: responses };
  } catch (e) { /* no prefetch: the page asks itself */ }
})();`;
}
