/**
 * For fetch-based connectors that change things (a WhatsApp message, a deal stage): whether a failed
 * request can be called "not done". Only a failure that proves the request never left is; once it may
 * have reached the API, a lost connection or a timeout says nothing about what the API did with it.
 */

/**
 * Causes of a fetch rejection that happen before a byte of the request is written: name resolution,
 * the TCP connect, the TLS handshake (certificate checks), or a URL fetch refused to parse.
 * Anything else (a reset, "other side closed", our own timeout's abort) may come after the request left.
 */
const BEFORE_SENDING = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  // undici's own connect timeout (10 s by default): the socket never connected.
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_INVALID_URL',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** True when a fetch rejection proves the request was never sent. An abort never does. */
export function failedBeforeSending(err: unknown): boolean {
  const cause = err instanceof Error ? err.cause : undefined;
  // With several addresses (IPv4 and IPv6) Node reports every failed attempt together.
  if (cause instanceof AggregateError) return cause.errors.length > 0 && cause.errors.every((e) => BEFORE_SENDING.has(codeOf(e) ?? ''));
  return BEFORE_SENDING.has(codeOf(cause) ?? '');
}

/**
 * 5xx answers after which a non-idempotent request may or may not have been carried out: 500 (the
 * server failed somewhere, maybe after acting), 502 and 504 (a gateway lost or timed out on the
 * upstream, which may still finish the work), Cloudflare's 520 and 524 (same, at the edge), and any 5xx
 * we do not know. Not ambiguous: 501 and 505 (the request was not understood), 503 (refused before
 * processing, the documented meaning), and Cloudflare's 521, 522, 523, 525 and 526 (the edge never
 * reached the origin).
 */
export function ambiguousServerError(status: number): boolean {
  return status >= 500 && status <= 599 && !NOT_PROCESSED.has(status);
}
const NOT_PROCESSED = new Set([501, 503, 505, 521, 522, 523, 525, 526]);

/** The system error code under a fetch failure (ECONNREFUSED, UND_ERR_SOCKET...), or its message. */
export function networkErrorText(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : undefined;
  return codeOf(cause) ?? (cause?.message || (err instanceof Error ? err.message : String(err)));
}

/** "15 s", or "300 ms" for the short timeouts tests use. */
export function formatWait(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}

function codeOf(err: unknown): string | undefined {
  return err && typeof err === 'object' && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}
