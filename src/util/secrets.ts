/**
 * Secrets (index credentials, env vars declared secret) must never reach logs, files or errors in clear text.
 * URLs are redacted structurally; other secrets are masked wherever they appear in text, including their
 * percent-encoded form (a password URL-encoded in a pip line would otherwise slip past a plain match).
 */
export const MASK = "***";

// scheme://userinfo@ anywhere in a string (`-e git+https://u:p@host/…`, `--index https://u:p@…`, a URL inside a
// sentence); userinfo stops at the characters that end an authority, so `https://host/?mail=a@b` is left alone.
// One slash too: a URL that went through path.resolve (given where a path was expected) keeps its password after "https:/".
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/?)([^/?#@\s"']+)@/gi;

/**
 * Masks the credentials of every URL in `text`: `https://user:pass@host/simple` → `https://user:***@host/simple`;
 * a token-only userinfo becomes `***@`.
 */
export function redactUrl(text: string): string {
  return text.replace(USERINFO, (_whole, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(":");
    return colon === -1 ? `${scheme}${MASK}@` : `${scheme}${userinfo.slice(0, colon)}:${MASK}@`;
  });
}

/** The secret parts of a URL's userinfo (password, or a lone token), decoded and raw. */
export function urlSecrets(url: string): string[] {
  const match = /^[a-z][a-z0-9+.-]*:\/\/([^/@\s]+)@/i.exec(url);
  if (!match) return [];
  const userinfo = match[1] as string;
  const colon = userinfo.indexOf(":");
  const raw = colon === -1 ? userinfo : userinfo.slice(colon + 1);
  if (!raw) return [];
  const secrets = new Set([raw]);
  try {
    secrets.add(decodeURIComponent(raw));
  } catch {
    // not valid percent-encoding: the raw form is all there is
  }
  return [...secrets];
}

export class Redactor {
  private readonly secrets = new Set<string>();

  constructor(secrets: Iterable<string> = []) {
    for (const secret of secrets) this.add(secret);
  }

  /** Registers a secret; very short values are ignored because masking them would shred ordinary text. */
  add(secret: string): this {
    if (secret.length < 3) return this;
    this.secrets.add(secret);
    this.secrets.add(encodeURIComponent(secret));
    return this;
  }

  addUrl(url: string): this {
    for (const secret of urlSecrets(url)) this.add(secret);
    return this;
  }

  /** Registers the credentials of every URL that appears anywhere in `text`. */
  addUrlsIn(text: string): this {
    for (const match of text.matchAll(/[a-z][a-z0-9+.-]*:\/\/[^\s"']+/gi)) this.addUrl(match[0]);
    return this;
  }

  get size(): number {
    return this.secrets.size;
  }

  redact(text: string): string {
    let out = redactUrl(text);
    // Longest first, so a secret that contains another is masked whole.
    for (const secret of [...this.secrets].sort((a, b) => b.length - a.length)) {
      if (out.includes(secret)) out = out.split(secret).join(MASK);
    }
    return out;
  }

  /** A JSON-like value with every string and object key redacted; the value itself is left unchanged. */
  redactValue(value: unknown): unknown {
    if (typeof value === "string") return this.redact(value);
    if (Array.isArray(value)) return value.map((item) => this.redactValue(item));
    if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([key, item]) => [this.redact(key), this.redactValue(item)]));
    return value;
  }
}
