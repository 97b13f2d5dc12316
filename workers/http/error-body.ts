/**
 * Kong's error document (kong.response.error): the message and request id rendered in the
 * format the client's Accept header prefers (JSON by default, or HTML, XML, plain text),
 * byte for byte as Kong renders it so clients parsing Kong's errors keep working.
 */

const JSON_TYPE = 'application/json; charset=utf-8';
const HTML_TYPE = 'text/html; charset=utf-8';
const XML_TYPE = 'application/xml; charset=utf-8';
const PLAIN_TYPE = 'text/plain; charset=utf-8';

const MIME: Record<string, string> = {
  'application/json': JSON_TYPE,
  'text/html': HTML_TYPE,
  'application/xml': XML_TYPE,
  'text/plain': PLAIN_TYPE,
  application: JSON_TYPE,
  text: PLAIN_TYPE,
};

/** Picks the content type for an error from Accept, like Kong's get_response_type. */
export function errorContentType(accept: string | undefined): string {
  if (accept === undefined || accept === '') return JSON_TYPE;
  let best = JSON_TYPE;
  let bestQ = 0;
  for (const part of accept.split(',')) {
    const segs = part.trim().split(';');
    const media = (segs[0] ?? '').trim().toLowerCase();
    const slash = media.indexOf('/');
    if (slash <= 0) continue;
    let q = 1;
    for (let i = 1; i < segs.length; i++) {
      const p = (segs[i] ?? '').trim();
      if (p.startsWith('q=')) q = Number(p.slice(2));
    }
    if (!(q > bestQ)) continue;
    const type = media.slice(0, slash);
    const sub = media.slice(slash + 1);
    const mime = sub === '*' ? (type === '*' ? JSON_TYPE : MIME[type]) : MIME[media];
    bestQ = q;
    if (mime !== undefined) best = mime;
  }
  return best;
}

function escapeJson(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function renderError(contentType: string, message: string, requestId: string): string {
  switch (contentType) {
    case HTML_TYPE:
      return `<!doctype html>\n<html>\n  <head>\n    <meta charset="utf-8">\n    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n    <p>${escapeXml(message)}.</p>\n    <p>request_id: ${requestId}</p>\n  </body>\n</html>\n`;
    case XML_TYPE:
      return `<?xml version="1.0" encoding="UTF-8"?>\n<error>\n  <message>${escapeXml(message)}</message>\n  <requestid>${requestId}</requestid>\n</error>\n`;
    case PLAIN_TYPE:
      return `${message}\nrequest_id: ${requestId}\n`;
    default:
      return `{\n  "message":"${escapeJson(message)}",\n  "request_id":"${requestId}"\n}`;
  }
}

export const JSON_CONTENT_TYPE = JSON_TYPE;
