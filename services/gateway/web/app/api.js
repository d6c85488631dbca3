// The API client: same-origin fetch with the session cookie (set by POST /session,
// HttpOnly: this code never sees it) and the anti-forgery header on every call.

export const CSRF_HEADER = 'X-Requested-With';
export const CSRF_VALUE = 'parley-inbox';

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

let unauthorized = () => {};
/** What to do when a call answers 401 (the session ended): the app shows sign-in. */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

export function withQuery(path, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === '') continue;
    if (Array.isArray(value)) value.forEach((v) => params.append(key, v));
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** Calls the gateway; answers the JSON body (null for 204); throws ApiError. */
export async function api(path, {method = 'GET', query, body, form} = {}) {
  const headers = {[CSRF_HEADER]: CSRF_VALUE, Accept: 'application/json'};
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const response = await fetch(withQuery(path, query), {
    method, headers, body: payload, credentials: 'same-origin',
  });
  if (response.status === 204) return null;
  const type = response.headers.get('content-type') || '';
  const data = type.includes('json') ? await response.json() : null;
  if (!response.ok) {
    if (response.status === 401 && path !== '/session') unauthorized();
    throw new ApiError(response.status, data);
  }
  return data;
}

export const session = {
  open: (apiKey) => api('/session', {method: 'POST', body: {api_key: apiKey}}),
  read: () => api('/session'),
  close: () => api('/session', {method: 'DELETE'}),
};

const enc = encodeURIComponent;
export const discussions = {
  list: (query) => api('/discussions', {query}),
  counts: (query) => api('/discussions/counts', {query}),
  get: (id) => api(`/discussions/${enc(id)}`),
  patch: (id, body) => api(`/discussions/${enc(id)}`, {method: 'PATCH', body}),
  bulkStatus: (ids, status) => api('/discussions/bulk-status', {method: 'POST', body: {ids, status}}),
  reply: (id, body) => api(`/discussions/${enc(id)}/replies`, {method: 'POST', body}),
  resync: (id) => api(`/discussions/${enc(id)}/resync`, {method: 'POST'}),
  retry: (id, commandId) =>
    api(`/discussions/${enc(id)}/deliveries/${enc(commandId)}/retry`, {method: 'POST'}),
  attachmentUrl: (id, fileId) => `/discussions/${enc(id)}/attachments/${enc(fileId)}`,
};

export function uploadFile(storeId, file) {
  const form = new FormData();
  form.append('store_id', storeId);
  form.append('file', file, file.name);
  return api('/files', {method: 'POST', form});
}

const arPath = (s, m, c) => `/autoresponders/${enc(s)}/${enc(m)}/${enc(c)}`;
export const autoresponders = {
  list: () => api('/autoresponders'),
  get: (s, m, c) => api(arPath(s, m, c)),
  put: (s, m, c, body) => api(arPath(s, m, c), {method: 'PUT', body}),
  restore: (s, m, c) => api(`${arPath(s, m, c)}/restore-default`, {method: 'POST'}),
  test: (s, m, c) => api(`${arPath(s, m, c)}/test`, {method: 'POST'}),
};

export const connections = {
  list: () => api('/connections'),
};
