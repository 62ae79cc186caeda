/**
 * Installs an unpacked wheel from the cache into a virtual environment, the way pip does it (and
 * pypa/installer, uv): files linked into site-packages, `.data/<key>/` subtrees moved to their scheme
 * directory, `#!python` shebangs of `.data/scripts` rewritten, console and GUI entry-point scripts written
 * in pip's launcher form, then INSTALLER, REQUESTED, direct_url.json, and RECORD last.
 *
 * Files are linked (reflink where the filesystem can, else hardlink, else copy) and therefore stay read-only:
 * a task that writes into its environment gets EACCES instead of changing the file for every environment.
 * Files the installer writes (rewritten scripts, metadata) are always new files, never written through a link.
 */
import { constants as fsConstants, copyFileSync, linkSync, mkdirSync, promises as fs, rmSync } from "node:fs";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import path from "node:path";
import { redactUrl } from "../../util/secrets.ts";
import { csvLine, recordHash, type EntryPoint, type WheelInfo } from "./archive.ts";
import type { VenvScheme } from "./venv.ts";

export type LinkMode = "clone" | "hardlink" | "copy";

const CLONE_UNSUPPORTED = new Set(["ENOTSUP", "EOPNOTSUPP", "EXDEV", "EINVAL", "ENOSYS", "ENOTTY", "EPERM"]);
const HARDLINK_UNSUPPORTED = new Set(["EXDEV", "EPERM", "EMLINK", "ENOTSUP", "EOPNOTSUPP"]);

/**
 * Places files from the cache into environments, settling on the best mode the filesystems allow on first
 * use: reflink (an independent copy sharing blocks: btrfs, XFS, APFS), hardlink (same filesystem), copy.
 */
export class Linker {
  private mode: LinkMode;

  constructor(preferred: LinkMode = "clone") {
    this.mode = preferred;
  }

  get linkMode(): LinkMode {
    return this.mode;
  }

  /**
   * Synchronous on purpose: a warm install of the 28-wheel set (2,721 files) took 490 ms with fs.promises and
   * 180–270 ms with synchronous calls (same machine, same hour): the thread-pool round trip costs more than link(2).
   */
  place(source: string, target: string): void {
    for (;;) {
      try {
        if (this.mode === "clone") copyFileSync(source, target, fsConstants.COPYFILE_FICLONE_FORCE | fsConstants.COPYFILE_EXCL);
        else if (this.mode === "hardlink") linkSync(source, target);
        else copyFileSync(source, target, fsConstants.COPYFILE_EXCL);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? "";
        if (code === "EEXIST") {
          // Two distributions ship the same file: the later one wins, as with pip.
          rmSync(target, { force: true });
          continue;
        }
        if (this.mode === "clone" && CLONE_UNSUPPORTED.has(code)) this.mode = "hardlink";
        else if (this.mode === "hardlink" && HARDLINK_UNSUPPORTED.has(code)) this.mode = "copy";
        else throw error;
      }
    }
  }
}

export interface LinkWheelOptions {
  /** The user asked for this distribution (REQUESTED is written). */
  requested?: boolean;
  /** Installed from a URL rather than found on an index: written to direct_url.json (PEP 610), credentials removed. */
  directUrl?: string;
  /** INSTALLER contents. Default "venvflow". */
  installer?: string;
  /** Directories already created in this environment (shared across wheels of one install). */
  createdDirs?: Set<string>;
}

function posixRelative(from: string, to: string): string {
  return path.relative(from, to).split(path.sep).join("/");
}

/** distlib's shebang (what pip writes): a plain `#!` line, or the /bin/sh trampoline for long or spaced paths. */
function shebang(python: string): string {
  const executable = python.includes(" ") ? `"${python}"` : python;
  // Linux's limit for a `#!` line is 127 bytes (macOS: 512), the newline and "#!" included.
  const limit = process.platform === "darwin" ? 512 : 127;
  if (!python.includes(" ") && Buffer.byteLength(executable) + 3 <= limit) return `#!${executable}\n`;
  return `#!/bin/sh\n'''exec' ${executable} "$0" "$@"\n' '''\n`;
}

/** pip's launcher for an entry point (distlib's SCRIPT_TEMPLATE). */
function entryPointScript(python: string, entry: EntryPoint): string {
  return (
    `${shebang(python)}# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom ${entry.module} import ${entry.attr.split(".")[0]}\n` +
    `if __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(${entry.attr}())\n`
  );
}

/**
 * Where one archive path goes, its RECORD path (relative to site-packages) and whether it is a `.data/scripts`
 * script. Paths are joined as strings: archive paths were checked when unpacked (no `..`, no leading `/`), and
 * path.join/relative for every file cost as much as the link(2) calls themselves (profiled, 2,721 files).
 */
function destination(info: WheelInfo, scheme: VenvScheme, site: string, archivePath: string): { target: string; recordPath: string; script: boolean } {
  if (info.dataDir && archivePath.startsWith(`${info.dataDir}/`)) {
    const rest = archivePath.slice(info.dataDir.length + 1);
    const slash = rest.indexOf("/");
    const key = rest.slice(0, slash);
    const bases: Record<string, string> = {
      purelib: scheme.purelib,
      platlib: scheme.platlib,
      scripts: scheme.scripts,
      headers: path.join(scheme.headers, info.name),
      data: scheme.data,
    };
    const target = `${bases[key] as string}/${rest.slice(slash + 1)}`; // keys were checked when the wheel was unpacked
    return { target, recordPath: posixRelative(site, target), script: key === "scripts" };
  }
  return { target: `${site}/${archivePath}`, recordPath: archivePath, script: false };
}

async function writeNew(target: string, content: string | Buffer, mode: number): Promise<string[]> {
  await fs.rm(target, { force: true });
  await fs.writeFile(target, content, { mode, flag: "wx" });
  const bytes = typeof content === "string" ? Buffer.from(content) : content;
  return [recordHash(bytes), String(bytes.length)];
}

function ensureDirs(dirs: Iterable<string>, created: Set<string>): void {
  for (const dir of [...new Set(dirs)].sort()) {
    if (created.has(dir)) continue;
    // Sorted, so a parent created in this loop comes first; a plain mkdir is then enough (and cheaper).
    if (created.has(dir.slice(0, dir.lastIndexOf("/")))) {
      try {
        mkdirSync(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
    } else mkdirSync(dir, { recursive: true });
    created.add(dir);
  }
}

/** Installs one unpacked wheel (`tree` inside the cache, described by `info`) into the environment `scheme` describes. */
export async function linkWheel(info: WheelInfo, tree: string, scheme: VenvScheme, linker: Linker, options: LinkWheelOptions = {}): Promise<void> {
  const created = options.createdDirs ?? new Set<string>();
  const site = info.rootIsPurelib ? scheme.purelib : scheme.platlib;
  const distInfoDir = path.join(site, info.distInfo);
  // Written fresh below, never linked: writing through a link would change the cache.
  const regenerated = new Set(["RECORD", "INSTALLER", "REQUESTED", "direct_url.json"].map((f) => `${info.distInfo}/${f}`));
  const placements = info.files.filter((f) => !regenerated.has(f.path)).map((file) => ({ file, ...destination(info, scheme, site, file.path) }));
  const scripts = [...info.consoleScripts, ...info.guiScripts];
  ensureDirs([distInfoDir, ...placements.map((p) => p.target.slice(0, p.target.lastIndexOf("/"))), ...(scripts.length ? [scheme.scripts] : [])], created);

  const record: string[][] = [];
  let sliceStarted = performance.now();
  for (const { file, target, recordPath, script } of placements) {
    // Synchronous links in slices: the event loop gets a turn every ~20 ms.
    if (performance.now() - sliceStarted > 20) {
      await yieldToEventLoop();
      sliceStarted = performance.now();
    }
    const source = `${tree}/${file.path}`;
    if (script) {
      // pip rewrites a `#!python` first line to the environment's interpreter; the mode stays the archive's.
      const content = await fs.readFile(source);
      if (content.subarray(0, 8).toString("latin1") === "#!python") {
        const newline = content.indexOf(0x0a);
        const rest = newline === -1 ? Buffer.alloc(0) : content.subarray(newline + 1);
        record.push([recordPath, ...(await writeNew(target, Buffer.concat([Buffer.from(`#!${scheme.python}\n`), rest]), file.executable ? 0o755 : 0o644))]);
        continue;
      }
    }
    linker.place(source, target);
    record.push([recordPath, file.hash, String(file.size)]);
  }
  for (const entry of scripts) {
    const target = path.join(scheme.scripts, entry.name);
    record.push([posixRelative(site, target), ...(await writeNew(target, entryPointScript(scheme.python, entry), 0o755))]);
  }
  const metadata: [string, string][] = [["INSTALLER", `${options.installer ?? "venvflow"}\n`]];
  if (options.requested) metadata.push(["REQUESTED", ""]);
  if (options.directUrl) {
    // PEP 610, as pip writes it (json.dumps with sorted keys); credentials never go into a file.
    const url = redactUrl(options.directUrl).replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1");
    metadata.push(["direct_url.json", `{"archive_info": {"hash": "sha256=${info.sha256}", "hashes": {"sha256": "${info.sha256}"}}, "url": ${JSON.stringify(url)}}`]);
  }
  for (const [name, content] of metadata) {
    const target = path.join(distInfoDir, name);
    record.push([posixRelative(site, target), ...(await writeNew(target, content, 0o644))]);
  }
  record.sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1));
  record.push([`${info.distInfo}/RECORD`, "", ""]);
  // CRLF, as pip writes it (Python's csv module); readers accept both.
  await writeNew(path.join(distInfoDir, "RECORD"), record.map((row) => `${csvLine(row)}\r\n`).join(""), 0o644);
}

