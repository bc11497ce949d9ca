// The gateway's REST API as the page sees it, through nginx under /api/.
//
// Every call resolves with parsed JSON (or nothing for 204) or rejects with an
// ApiError whose `message` is written for a person: the API answers errors as
// application/problem+json (RFC 9457), and nginx itself may answer 413 or 502
// with HTML, so the message is chosen from the HTTP status first and the
// problem's `detail` only adds to it. A network failure, or a 502/503/504
// (nginx's answers when no gateway is there), is reported to connection.js,
// which probes /api/healthz and shows the offline banner until the API is
// back; any other answer tells connection.js that it is reachable.
//
// Uploads use XMLHttpRequest rather than fetch because only XHR reports upload
// progress. The limits named in messages are the server's (config.js).
//
// Calls that need a credential take one as { secret, kind: 'owner'|'key' }
// (access.js chooses it) and send it as `Authorization: Bearer …`; 401 and
// 403 are then explained by what was sent: no credential, this image's
// owner token, or the API key entered under "Access key". The original is
// fetched as bytes (an <img> cannot send a header) and handed back as a Blob.

import { connection } from './connection.js';
import { config } from './config.js';
import { formatLimit, formatPixels } from './format.js';

const BASE = '/api';

export class ApiError extends Error {
  constructor(message, { status = 0, title = '', detail = '', type = '', offline = false } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.type = type;
    this.offline = offline;
  }
}

// Statuses that may mean "nginx answered but nothing behind it did" (nginx
// turns 502/504 into a 503 problem); connection.js probes to be sure.
function isGatewayDown(status) {
  return status === 502 || status === 503 || status === 504;
}

const OWNER_ONLY = 'Only the browser that uploaded this image can delete it or open its original.';

// 401: no credential where one is needed, or one the API does not know.
function describeUnauthorized(what, credential) {
  if (credential && credential.kind === 'key') {
    return 'Your access key was not accepted: it is unknown or was revoked. Change or remove it under Access key.';
  }
  if (credential && credential.kind === 'owner') {
    return 'The token this browser kept for this image was not accepted.';
  }
  if (what === 'upload') return 'This service needs an access key to upload: enter one under Access key.';
  if (what === 'delete' || what === 'original') return OWNER_ONLY;
  return `This ${what} needs an access key: enter one under Access key.`;
}

// 403: a valid credential that does not allow the action.
function describeForbidden(what, credential) {
  if (credential && credential.kind === 'owner') {
    return 'The token this browser holds belongs to another image, so it does not allow this.';
  }
  if (credential && credential.kind === 'key') {
    if (what === 'upload') return 'Your access key does not allow uploads: it needs the upload scope.';
    if (what === 'delete') return 'Your access key does not allow deleting images: it needs the delete or admin scope.';
    if (what === 'original') return 'Your access key does not allow opening originals: it needs the admin scope.';
    return `Your access key does not allow this ${what}.`;
  }
  return what === 'delete' || what === 'original' ? OWNER_ONLY : `This ${what} is not allowed.`;
}

// The words a person reads for a failed call. `what` names the action
// ("upload", "load", "delete", "original") so that generic cases read
// naturally; `credential` is what was sent (null for nothing).
export function describeError(status, problem = {}, what = 'request', credential = null) {
  const detail = typeof problem.detail === 'string' ? problem.detail.trim() : '';
  switch (status) {
    case 0:
      return 'Could not reach the server. Check your connection; we will keep trying.';
    case 400:
      return `The server did not understand this ${what}${detail ? `: ${detail}` : '.'}`;
    case 401:
      return describeUnauthorized(what, credential);
    case 403:
      return describeForbidden(what, credential);
    case 404:
      return 'This image no longer exists. It may have been deleted.';
    case 408:
      return `The ${what} took too long. Please try again.`;
    case 413:
      return config.uploadMaxBytes
        ? `This file is larger than ${formatLimit(config.uploadMaxBytes)}, the most we accept.`
        : 'This file is larger than the most we accept.';
    case 415:
      return 'This is not an image we can read. Try JPEG, PNG, WebP, GIF, AVIF, HEIC or TIFF.';
    case 422: {
      const tooBig = /pixel|megapixel|dimension|too large/i.test(detail);
      if (tooBig) {
        const limit = config.pixelLimit ? ` (the limit is ${formatPixels(config.pixelLimit)})` : '';
        return `This image has too many pixels for us to process${limit}.`;
      }
      return `This image could not be read: it looks damaged or incomplete${detail ? ` (${detail})` : ''}.`;
    }
    case 429:
      return 'Too many requests at once. Please wait a moment and try again.';
    case 502:
    case 504:
      return 'The server is not answering right now. We will keep trying.';
    case 503:
      return 'The service is busy or partly down. Please try again in a moment.';
    default:
      if (status >= 500) return `Something went wrong on the server (${status}). Please try again.`;
      return `The ${what} failed (${status})${detail ? `: ${detail}` : '.'}`;
  }
}

async function readProblem(response) {
  const type = response.headers.get('content-type') || '';
  if (!/json/i.test(type)) return {};
  try {
    return await response.json();
  } catch {
    return {};
  }
}

function headersFor(credential, accept = 'application/json') {
  const headers = { Accept: accept };
  if (credential) headers.Authorization = `Bearer ${credential.secret}`;
  return headers;
}

// One call; resolves with the Response when it is 2xx, else rejects with an
// ApiError in plain words.
async function send(path, { method = 'GET', signal, what, credential = null, accept } = {}) {
  let response;
  try {
    response = await fetch(BASE + path, {
      method,
      signal,
      headers: headersFor(credential, accept),
      cache: 'no-store',
    });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    connection.reportUnreachable();
    throw new ApiError(describeError(0, {}, what), { offline: true });
  }
  if (isGatewayDown(response.status)) connection.reportUnreachable();
  else connection.reportReachable();
  if (!response.ok) {
    const problem = await readProblem(response);
    throw new ApiError(describeError(response.status, problem, what, credential), {
      status: response.status,
      title: problem.title || '',
      detail: problem.detail || '',
      type: problem.type || '',
      offline: isGatewayDown(response.status),
    });
  }
  return response;
}

async function request(path, options = {}) {
  const response = await send(path, options);
  if (response.status === 204) return null;
  return response.json();
}

// The server's variants and limits (see config.js for the shape).
export function getConfig() {
  return request('/config', { what: 'settings request' });
}

// One page of the gallery, newest first. `cursor` is the previous page's
// `next` ({last_created_at, last_id}) or null for the first page.
export function listImages({ limit = 24, cursor = null, mode = '', signal } = {}) {
  const q = new URLSearchParams();
  q.set('limit', String(limit));
  if (cursor) {
    q.set('last_created_at', cursor.last_created_at);
    q.set('last_id', cursor.last_id);
  }
  if (mode) q.set('mode', mode);
  return request(`/images?${q}`, { signal, what: 'gallery page' });
}

export function getInfo(id, { signal } = {}) {
  return request(`/image/${encodeURIComponent(id)}/info`, { signal, what: 'image' });
}

// Deletes an image with `credential` (its owner token or a key with delete
// scope; access.js chooses). Resolves on 204 or 202 (the purge goes on).
export function deleteImage(id, credential) {
  return request(`/image/${encodeURIComponent(id)}`, { method: 'DELETE', what: 'delete', credential });
}

// The original's bytes as a Blob. The gateway hands them out only with the
// image's owner token or an admin key, so they cannot be an <img> URL.
export async function fetchOriginal(id, credential, { signal } = {}) {
  const response = await send(`/image/${encodeURIComponent(id)}?variant=original`,
    { signal, what: 'original', credential, accept: 'image/*' });
  return response.blob();
}

// Finds what an API key may do before the page keeps it: GET /api/access
// with the key answers its scopes. Resolves with { admin, delete, upload,
// scopes }, or rejects with an ApiError (401: the API does not know the key).
export async function checkKey(key) {
  const credential = { secret: key, kind: 'key' };
  const who = await request('/access', { what: 'key check', credential });
  const scopes = Array.isArray(who.scopes) ? who.scopes : [];
  const admin = scopes.includes('admin');
  return {
    admin,
    delete: admin || scopes.includes('delete'),
    upload: admin || scopes.includes('upload'),
    scopes,
  };
}

// Uploads one file. `ops` is an array of variant names; none, or exactly the
// server's default set, sends no `ops` field (the server's default applies).
// `onProgress(fraction)` follows the bytes sent; `credential` (the access
// key, or null) is sent when given. Returns { promise, abort }; the promise
// resolves with the 202 body (its owner_token is the caller's to keep) or
// rejects with an ApiError (status 0 and `aborted` true when abort() was
// called).
export function uploadFile(file, { ops = [], onProgress, credential = null } = {}) {
  const xhr = new XMLHttpRequest();
  let aborted = false;
  const promise = new Promise((resolve, reject) => {
    const form = new FormData();
    const isDefault = ops.length === config.defaultOps.length && ops.every((n) => config.defaultOps.includes(n));
    if (ops.length && !isDefault) form.append('ops', ops.join(','));
    form.append('file', file, file.name);

    xhr.open('POST', `${BASE}/upload`);
    for (const [name, value] of Object.entries(headersFor(credential))) xhr.setRequestHeader(name, value);
    xhr.responseType = 'text';
    xhr.upload.addEventListener('progress', (e) => {
      if (onProgress && e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener('load', () => {
      let body = {};
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : {};
      } catch {
        body = {};
      }
      if (isGatewayDown(xhr.status)) connection.reportUnreachable();
      else connection.reportReachable();
      if (xhr.status >= 200 && xhr.status < 300 && body && body.id) {
        resolve(body);
      } else {
        reject(new ApiError(describeError(xhr.status, body, 'upload', credential), {
          status: xhr.status,
          title: body.title || '',
          detail: body.detail || '',
          type: body.type || '',
          offline: isGatewayDown(xhr.status),
        }));
      }
    });
    xhr.addEventListener('error', () => {
      connection.reportUnreachable();
      reject(new ApiError('The upload was interrupted: the server could not be reached. Try again when it is back.',
        { offline: true }));
    });
    xhr.addEventListener('abort', () => {
      const err = new ApiError('Upload cancelled.');
      err.aborted = true;
      reject(err);
    });
    xhr.send(form);
  });
  return {
    promise,
    abort() {
      if (!aborted) {
        aborted = true;
        xhr.abort();
      }
    },
  };
}
