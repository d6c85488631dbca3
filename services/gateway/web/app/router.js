// Hash routes: #/inbox?status=open, #/discussions/<id>, #/autoresponders, …
// The page is one document, so the gateway serves only GET / and static modules.

/** {path: ['discussions', 'id'], query: URLSearchParams} of the current hash. */
export function currentRoute() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [pathPart, queryPart = ''] = hash.split('?');
  const path = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
  return {path, query: new URLSearchParams(queryPart)};
}

export function navigate(path, query) {
  const text = query && [...new URLSearchParams(query)].length ? `?${new URLSearchParams(query)}` : '';
  const target = `#/${path}${text}`;
  if (location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = target;
}

/** Replaces the hash without a new history entry or a re-render (filters in the URL). */
export function reflect(path, query) {
  const text = [...query].length ? `?${query}` : '';
  history.replaceState(null, '', `#/${path}${text}`);
}
