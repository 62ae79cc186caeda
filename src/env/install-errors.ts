/**
 * Turns an installer's failed output into one error that names the requirement, quotes the installer's
 * decisive line and says what to do. The full output stays in the build log.
 */
import { VenvflowError } from "../util/errors.ts";

export interface InstallFailureContext {
  /** Redacted installer output, line by line. */
  lines: string[];
  pythonVersion: string;
  platform: string;
  /** Redacted index URLs in effect (null: the installer's own configuration). */
  indexUrls: string[] | null;
  buildLogPath: string;
  exitCode: number | null;
}

const CONNECTION_TROUBLE =
  /Failed to establish a new connection|Connection refused|Max retries exceeded|Name or service not known|Temporary failure in name resolution|Network is unreachable|timed out|ConnectTimeoutError|No route to host|Failed to fetch|error sending request|dns error/i;
const UNAUTHORIZED = /\b(401|403)\b.*(Unauthorized|Forbidden|Client Error)|HTTP error (401|403)|status code:? (401|403)/i;

function lastMatch(lines: string[], pattern: RegExp): RegExpExecArray | null {
  for (let i = lines.length - 1; i >= 0; i--) {
    const match = pattern.exec(lines[i] as string);
    if (match) return match;
  }
  return null;
}

function firstLine(lines: string[], pattern: RegExp): string | undefined {
  return lines.find((line) => pattern.test(line));
}

export function explainInstallFailure(context: InstallFailureContext): VenvflowError {
  const { lines } = context;
  const where = `Python ${context.pythonVersion} on ${context.platform}`;
  const indexes = context.indexUrls === null ? "the installer's configured index" : context.indexUrls.length === 0 ? "no index (--no-index)" : context.indexUrls.join(", ");
  const log = `full installer output: ${context.buildLogPath}`;
  const details = (extra: Record<string, unknown>) => ({ buildLogPath: context.buildLogPath, exitCode: context.exitCode, ...extra });

  const unauthorized = firstLine(lines, UNAUTHORIZED);
  if (unauthorized) {
    return new VenvflowError("index_unauthorized", `The package index refused the credentials (${indexes}): ${unauthorized.trim()}\n${log}`, {
      fix: "put valid credentials in the index URL (https://user:token@host/simple) or in the installer's configuration (netrc/keyring)",
      details: details({ decisiveLine: unauthorized.trim() }),
    });
  }

  const noMatch = lastMatch(lines, /No matching distribution found for (\S+)/);
  const versions = lastMatch(lines, /Could not find a version that satisfies the requirement (\S+) \(from versions: ([^)]*)\)/);
  const uvNoMatch = lastMatch(lines, /Because (\S+?)(?:==\S+)? was not found in the package registry|Because there is no version of (\S+)|No solution found when resolving/);
  if (noMatch || versions || uvNoMatch) {
    const requirement = noMatch?.[1] ?? versions?.[1] ?? uvNoMatch?.[1] ?? uvNoMatch?.[2] ?? "(unknown)";
    const decisiveLine = (noMatch?.[0] ?? versions?.[0] ?? uvNoMatch?.[0] ?? "").trim();
    const connection = firstLine(lines, CONNECTION_TROUBLE);
    if (connection) {
      return new VenvflowError("index_unreachable", `The package index is unreachable (${indexes}), so ${requirement} could not be found: ${connection.trim()}\n${log}`, {
        fix: "check the index URL, and that this machine can reach it (proxy, VPN, firewall); indexUrls and PIP_INDEX_URL choose the index",
        details: details({ requirement, decisiveLine: connection.trim() }),
      });
    }
    const available = versions?.[2]?.trim();
    if (available && available !== "none") {
      return new VenvflowError("no_matching_distribution", `${decisiveLine} — the index has ${available} for ${where}\n${log}`, {
        fix: `ask for one of the available versions of ${requirement.replace(/[<>=!~].*$/, "")}: ${available}`,
        details: details({ requirement, decisiveLine, availableVersions: available.split(/,\s*/) }),
      });
    }
    return new VenvflowError("no_matching_distribution", `${decisiveLine} — no distribution on ${indexes} fits ${where}\n${log}`, {
      fix: `check the project name; if it exists, it may only have wheels for other platforms or Python versions (pick a pythonVersion it supports, or a version with a wheel for ${where})`,
      details: details({ requirement, decisiveLine, availableVersions: [] }),
    });
  }

  const cannot = firstLine(lines, /Cannot install .* because these package versions have conflicting dependencies|ResolutionImpossible|conflicting dependencies|the requirements are unsatisfiable/i);
  if (cannot) {
    const start = lines.findIndex((l) => /The conflict is caused by/.test(l));
    const cause = start === -1 ? [] : lines.slice(start + 1, start + 8).filter((l) => l.trim().startsWith("The user requested") || /depends on/.test(l)).map((l) => l.trim());
    const pair = /Cannot install (.+?) and (.+?) because/.exec(cannot);
    return new VenvflowError(
      "conflicting_requirements",
      `${cannot.trim()}${cause.length ? `\n  ${cause.join("\n  ")}` : ""}\n${log}`,
      {
        fix: pair ? `loosen or change one of ${pair[1]} / ${pair[2]} so their dependencies agree` : "loosen the version ranges so a single version of each package satisfies everyone",
        details: details({ decisiveLine: cannot.trim(), conflict: cause }),
      },
    );
  }

  // Hash-checking mode (`--hash` lines, `--require-hashes`): pip lists each package whose file did not match.
  const mismatch = lines.findIndex((l) => /THESE PACKAGES DO NOT MATCH THE HASHES/.test(l));
  if (mismatch !== -1) {
    const packages = lines.slice(mismatch + 1).map((l) => /^\s+(\S+?==\S+) from /.exec(l)?.[1]).filter((p): p is string => p !== undefined);
    const expected = lines.slice(mismatch + 1).find((l) => /Expected sha256/.test(l))?.trim();
    const got = lines.slice(mismatch + 1).find((l) => /Got\s+[0-9a-f]{64}/.test(l))?.trim().replace(/\s+/g, " ");
    return new VenvflowError("hash_mismatch", `The downloaded file of ${packages.join(", ") || "a package"} does not match the --hash in the requirements${expected ? ` (${expected}; ${got ?? "got another"})` : ""}\n${log}`, {
      fix: "if the version changed on purpose, regenerate the hashes (pip-compile --generate-hashes); otherwise the index is serving a different file than the one you locked",
      details: details({ decisiveLine: (lines[mismatch] as string).trim(), packages }),
    });
  }
  const missingHashes = firstLine(lines, /Hashes are required in --require-hashes mode, but they are missing|In --require-hashes mode, all requirements must have their versions pinned/);
  if (missingHashes) {
    const offenders = lines.filter((l) => /--hash=sha256:[0-9a-f]{64}$|^\s+\S+ from /.test(l)).map((l) => l.trim()).slice(0, 5);
    return new VenvflowError("hashes_missing", `${missingHashes.trim()}${offenders.length ? `: ${offenders.join("; ")}` : ""}\n${log}`, {
      fix: "with --require-hashes every requirement, dependencies included, must be pinned with == and carry a --hash (pip-compile --generate-hashes writes them)",
      details: details({ decisiveLine: missingHashes.trim() }),
    });
  }

  const unsupported = firstLine(lines, /is not a supported wheel on this platform/);
  if (unsupported) {
    return new VenvflowError("unsupported_wheel", `${unsupported.trim()} (${where})\n${log}`, {
      fix: `use a wheel built for ${where}, or a version of the project that has one`,
      details: details({ decisiveLine: unsupported.trim() }),
    });
  }

  // Building from source can fail before any wheel is built: while generating the sdist's metadata (setup.py egg_info).
  const metadataFailed = lines.findIndex((l) => /error: metadata-generation-failed|Preparing metadata \(.*\) did not run successfully|egg_info did not run successfully/.test(l));
  if (metadataFailed !== -1) {
    const source = lines.slice(0, metadataFailed).reverse().map((l) => /^(?:Collecting|Processing) (\S+)/.exec(l.trim())?.[1]).find((m) => m !== undefined);
    const project = source === undefined ? "(unknown)" : (source.split(/[@=<>!~;[ ]/)[0] as string).replace(/\/+$/, "").split("/").pop() as string;
    const start = lines.findIndex((l, i) => i <= metadataFailed + 8 && /lines of output\]/.test(l));
    const end = start === -1 ? -1 : lines.findIndex((l, i) => i > start && /\[end of output\]/.test(l));
    const output = start === -1 || end === -1 ? [] : lines.slice(start + 1, end).map((l) => l.trim()).filter(Boolean);
    const decisiveLine = output.at(-1) ?? (lines[metadataFailed] as string).trim();
    return new VenvflowError("sdist_build_failed", `${project} has no wheel for ${where} and building it from source failed while preparing its metadata: ${decisiveLine}\n${log}`, {
      fix: `pick a version of ${project} that has a wheel for ${where}, or install what its build needs (see the log)`,
      details: details({ requirement: project, decisiveLine }),
    });
  }

  const buildFailed = lastMatch(lines, /Failed to build (\S+)|Could not build wheels for (\S+)|Failed building wheel for (\S+)/);
  if (buildFailed) {
    const project = buildFailed[1] ?? buildFailed[2] ?? buildFailed[3] ?? "(unknown)";
    const compiler = firstLine(lines, /command '.*(gcc|cc|g\+\+|clang)' failed|unable to execute '.*(gcc|cc)'|fatal error: .*\.h: No such file|error: Microsoft Visual C\+\+/);
    return new VenvflowError("sdist_build_failed", `${project} has no wheel for ${where} and building it from source failed${compiler ? `: ${compiler.trim()}` : ""}\n${log}`, {
      fix: compiler
        ? `install a C compiler and the headers it needs (e.g. apt-get install build-essential python3-dev), or pick a version of ${project} with a wheel for ${where}`
        : `pick a version of ${project} that has a wheel for ${where}, or install what its build needs (see the log)`,
      details: details({ requirement: project, decisiveLine: (compiler ?? buildFailed[0]).trim() }),
    });
  }

  const lastError = lastMatch(lines, /^(ERROR|error):\s*(.+)$/);
  const decisiveLine = lastError?.[0].trim() ?? lines.filter((l) => l.trim()).slice(-1)[0]?.trim() ?? `installer exited with code ${context.exitCode}`;
  return new VenvflowError("install_failed", `Installing the requirements failed: ${decisiveLine}\n${log}`, {
    fix: "read the installer output in the build log; fix the requirement it names",
    details: details({ decisiveLine }),
  });
}
