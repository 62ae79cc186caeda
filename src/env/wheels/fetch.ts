/**
 * Getting a wheel's bytes from its URL: `file://` paths are read, http(s) URLs downloaded (basic auth from the
 * URL's userinfo, sent as a header and never logged), and either way the sha256 is checked before anything
 * else looks at the bytes.
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import { fileURLToPath } from "node:url";
import { VenvflowError } from "../../util/errors.ts";
import { redactUrl } from "../../util/secrets.ts";

/** Splits `https://user:pass@host/x` into the URL fetch() accepts (no userinfo) and the Authorization header. */
export function authorizedRequest(url: string): { url: string; headers: Record<string, string> } {
  const parsed = new URL(url);
  if (!parsed.username && !parsed.password) return { url, headers: {} };
  const credentials = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
  parsed.username = "";
  parsed.password = "";
  return { url: parsed.toString(), headers: { authorization: `Basic ${Buffer.from(credentials).toString("base64")}` } };
}

function downloadFailed(url: string, why: string, cause?: unknown): VenvflowError {
  return new VenvflowError("wheel_download_failed", `Could not get the wheel ${redactUrl(url)}: ${why}`, {
    fix: "check that the index is reachable and the URL (and its credentials) are right, then run again",
    details: { url: redactUrl(url) },
    cause,
  });
}

/**
 * The wheel's bytes, verified against `sha256`. Wheels are held in memory: they are unpacked from memory next,
 * and the largest common wheels (tens of MB) fit easily.
 */
export async function fetchWheel(url: string, sha256: string, signal?: AbortSignal): Promise<Buffer> {
  let bytes: Buffer;
  if (url.startsWith("file:")) {
    try {
      bytes = await fs.readFile(fileURLToPath(url));
    } catch (error) {
      throw downloadFailed(url, (error as Error).message, error);
    }
  } else if (/^https?:/i.test(url)) {
    const request = authorizedRequest(url);
    let response: Response;
    try {
      response = await fetch(request.url, { headers: request.headers, signal });
    } catch (error) {
      signal?.throwIfAborted();
      throw downloadFailed(url, (error as Error).message, error);
    }
    if (!response.ok) throw downloadFailed(url, `HTTP ${response.status} ${response.statusText}`);
    bytes = Buffer.from(await response.arrayBuffer());
  } else {
    throw new VenvflowError("wheel_download_failed", `Wheel URL ${redactUrl(url)} is neither file:// nor http(s)://`, {
      fix: "give the wheel as a file:// or http(s):// URL",
      details: { url: redactUrl(url) },
    });
  }
  const actual = createHash("sha256").update(bytes).digest("hex");
  if (actual !== sha256.toLowerCase()) {
    throw new VenvflowError("wheel_hash_mismatch", `The wheel ${redactUrl(url)} has sha256 ${actual}, but the lock says ${sha256}`, {
      fix: "the file changed on the index or in transit: if the new file is trusted, update the lock (venvflow lock --upgrade), otherwise investigate the index",
      details: { url: redactUrl(url), expected: sha256, actual },
    });
  }
  return bytes;
}
