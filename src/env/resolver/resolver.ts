/**
 * Backtracking resolution: a port of resolvelib 1.0.1's `Resolution` (the version pip 23.x–24.x vendors) driven by
 * a provider that reproduces pip's (`pip/_internal/resolution/resolvelib`): the same identifiers ("name",
 * "name[extras]", "<Python from Requires-Python>"), the same requirement kinds, candidate order and
 * `get_preference` tuple, so that the pinned set equals pip's, also when backtracking decides it.
 */
import { VenvflowError } from "../../util/errors.ts";
import { Requirement, SpecifierSet, Version, canonicalizeName, parseSdistFilename, parseWheelFilename, type MarkerEnvironment, type Tag } from "../pep/index.ts";
import type { IndexFile } from "./index-client.ts";
import type { CoreMetadata } from "./metadata.ts";

export const PYTHON_IDENTIFIER = "<Python from Requires-Python>";

export interface Candidate {
  identifier: string;
  name: string;
  version: Version;
  extras: readonly string[];
  /** The file this version is installed from (for the Python candidate: none). */
  file: IndexFile | null;
  /** For an extras candidate: the candidate of the project itself. */
  base: Candidate | null;
}

export type ResolverRequirement =
  | { kind: "specifier"; identifier: string; name: string; extras: readonly string[]; specifier: SpecifierSet; text: string }
  | { kind: "explicit"; identifier: string; name: string; candidate: Candidate; text: string }
  | { kind: "python"; identifier: typeof PYTHON_IDENTIFIER; name: typeof PYTHON_IDENTIFIER; specifier: SpecifierSet; text: string };

export interface RequirementInformation {
  requirement: ResolverRequirement;
  parent: Candidate | null;
}

interface Criterion {
  candidates: Candidate[];
  information: RequirementInformation[];
  incompatibilities: Candidate[];
}

interface State {
  mapping: Map<string, Candidate>;
  criteria: Map<string, Criterion>;
  backtrackCauses: RequirementInformation[];
}

class RequirementsConflicted extends Error {
  readonly criterion: Criterion;

  constructor(criterion: Criterion) {
    super("requirements conflicted");
    this.criterion = criterion;
  }
}

export class ResolutionImpossible extends Error {
  /** The criteria when resolution stopped: who required what, to explain the chain behind each cause. */
  criteria: ReadonlyMap<string, { information: RequirementInformation[] }> = new Map();

  readonly causes: RequirementInformation[];

  constructor(causes: RequirementInformation[]) {
    super("resolution impossible");
    this.causes = causes;
  }
}

/** What the resolver needs from the outside world: index files and metadata, for one target interpreter. */
export interface ResolverSource {
  files(name: string): Promise<IndexFile[]>;
  metadata(candidate: Candidate): Promise<CoreMetadata>;
  markers: MarkerEnvironment;
  /** Supported tags, best first. */
  tags: readonly Tag[];
  pythonVersion: string;
  allowAllPrereleases: boolean;
  onWarning(message: string): void;
}

function formatIdentifier(name: string, extras: readonly string[]): string {
  return extras.length ? `${name}[${[...extras].sort().join(",")}]` : name;
}

/** Requirements of one Requires-Dist/user line, as pip's `_make_requirements_from_install_req` makes them. */
export function requirementsFrom(text: string, requestedExtras: readonly string[], markers: MarkerEnvironment): ResolverRequirement[] {
  const parsed = new Requirement(text);
  if (parsed.url) {
    throw new VenvflowError("unsupported_requirement", `"${text}" is a direct URL reference, which venvflow's resolver does not handle`, {
      fix: "publish the distribution on an index, or build with installer: \"pip\"",
    });
  }
  if (parsed.marker) {
    const extrasToTry = requestedExtras.length ? requestedExtras : [""];
    if (!extrasToTry.some((extra) => parsed.marker?.evaluate({ ...markers, extra }))) return [];
  }
  const name = canonicalizeName(parsed.name);
  const extras: string[] = [...new Set([...parsed.extras].map((e) => canonicalizeName(e)))].sort();
  const out: ResolverRequirement[] = [];
  if (extras.length && parsed.specifier.size > 0) out.push({ kind: "specifier", identifier: name, name, extras: [], specifier: parsed.specifier, text });
  out.push({ kind: "specifier", identifier: formatIdentifier(name, extras), name, extras, specifier: parsed.specifier, text });
  return out;
}

/** pip's `check_requires_python`: an unreadable specifier does not exclude the file. */
export function requiresPythonFits(requiresPython: string, pythonVersion: string): boolean {
  let specifier: SpecifierSet;
  try {
    specifier = new SpecifierSet(requiresPython);
  } catch {
    return true;
  }
  return specifier.contains(pythonVersion);
}

function sameCandidate(a: Candidate, b: Candidate): boolean {
  return a === b || (a.identifier === b.identifier && a.version.equals(b.version));
}

/** pip's `_sort_key`, reduced to what differs between files of one project (no hashes, no --prefer-binary). */
interface RankedFile {
  file: IndexFile;
  version: Version;
  yanked: boolean;
  /** -(index of the best supported tag); sdists rank below every wheel. */
  tagPriority: number;
  build: readonly [] | readonly [number, string];
}

function compareRanked(a: RankedFile, b: RankedFile): number {
  if (a.yanked !== b.yanked) return a.yanked ? -1 : 1;
  const byVersion = a.version.compare(b.version);
  if (byVersion !== 0) return byVersion;
  if (a.tagPriority !== b.tagPriority) return a.tagPriority - b.tagPriority;
  const [an, as] = a.build.length ? a.build : [-Infinity, ""];
  const [bn, bs] = b.build.length ? b.build : [-Infinity, ""];
  return an !== bn ? an - bn : as < bs ? -1 : as > bs ? 1 : 0;
}

export class PipProvider {
  private readonly knownDepths = new Map<string, number>();
  private readonly tagRank = new Map<string, number>();
  private readonly rankedFiles = new Map<string, Promise<RankedFile[]>>();
  private readonly candidates = new Map<string, Candidate>();
  private readonly dependencies = new Map<Candidate, Promise<ResolverRequirement[]>>();
  readonly pythonCandidate: Candidate;

  private readonly source: ResolverSource;
  private readonly constraints: ReadonlyMap<string, SpecifierSet>;
  private readonly userRequested: ReadonlyMap<string, number>;

  constructor(source: ResolverSource, constraints: ReadonlyMap<string, SpecifierSet>, userRequested: ReadonlyMap<string, number>) {
    this.source = source;
    this.constraints = constraints;
    this.userRequested = userRequested;
    source.tags.forEach((tag, i) => {
      if (!this.tagRank.has(tag.toString())) this.tagRank.set(tag.toString(), i);
    });
    this.pythonCandidate = { identifier: PYTHON_IDENTIFIER, name: PYTHON_IDENTIFIER, version: new Version(source.pythonVersion), extras: [], file: null, base: null };
  }

  identify(r: ResolverRequirement | Candidate): string {
    return r.identifier;
  }

  /** One object per (identifier, version), so candidates compare by identity as pip's do. */
  private candidateFor(name: string, extras: readonly string[], version: Version, file: IndexFile): Candidate {
    const identifier = formatIdentifier(name, extras);
    const key = `${identifier}@${version.toString()}`;
    let candidate = this.candidates.get(key);
    if (!candidate) {
      const base = extras.length ? this.candidateFor(name, [], version, file) : null;
      candidate = { identifier, name, version, extras: [...extras].sort(), file, base };
      this.candidates.set(key, candidate);
    }
    return candidate;
  }

  /** The files pip's finder accepts for a project: compatible tags, fitting Requires-Python, the right name; ascending. */
  private ranked(name: string): Promise<RankedFile[]> {
    let pending = this.rankedFiles.get(name);
    if (!pending) {
      pending = this.source.files(name).then((files) => {
        const out: RankedFile[] = [];
        for (const file of files) {
          let version: Version;
          let tagPriority: number;
          let build: RankedFile["build"] = [];
          try {
            if (file.filename.endsWith(".whl")) {
              const wheel = parseWheelFilename(file.filename);
              if (wheel.name !== name) continue;
              let best = Infinity;
              for (const tag of wheel.tags) best = Math.min(best, this.tagRank.get(tag.toString()) ?? Infinity);
              if (best === Infinity) continue;
              version = wheel.version;
              tagPriority = -best;
              build = wheel.build;
            } else if (/\.(tar\.gz|zip)$/.test(file.filename)) {
              const sdist = parseSdistFilename(file.filename);
              if (sdist.name !== name) continue;
              version = sdist.version;
              tagPriority = -this.tagRank.size - 1;
            } else continue;
          } catch {
            continue; // a file name pip cannot read is skipped by pip too
          }
          if (file.requiresPython && !requiresPythonFits(file.requiresPython, this.source.pythonVersion)) continue;
          out.push({ file, version, yanked: file.yanked !== null, tagPriority, build });
        }
        return out.sort(compareRanked);
      });
      this.rankedFiles.set(name, pending);
    }
    return pending;
  }


  /** Versions with a file for the target, ignoring every specifier and constraint (for explanations), oldest first as pip lists them. */
  async availableVersions(name: string): Promise<string[]> {
    return [...new Set((await this.ranked(name)).filter((r) => !r.yanked).map((r) => r.version.toString()))];
  }

  constraintFor(name: string): SpecifierSet | undefined {
    return this.constraints.get(name);
  }

  async findMatches(identifier: string, requirements: (id: string) => ResolverRequirement[], incompatibilities: (id: string) => Candidate[]): Promise<Candidate[]> {
    if (identifier === PYTHON_IDENTIFIER) {
      const fits = requirements(identifier).every((r) => this.isSatisfiedBy(r, this.pythonCandidate));
      return fits ? [this.pythonCandidate] : [];
    }
    const incompatible = incompatibilities(identifier);
    const isIncompatible = (c: Candidate) => incompatible.some((i) => sameCandidate(i, c));
    const own = requirements(identifier);
    const explicit: Candidate[] = [];
    const specifierReqs: Extract<ResolverRequirement, { kind: "specifier" }>[] = [];
    for (const r of own) {
      if (r.kind === "explicit") explicit.push(r.candidate);
      else if (r.kind === "specifier") specifierReqs.push(r);
    }
    const bracket = identifier.indexOf("[");
    const name = bracket === -1 ? identifier : identifier.slice(0, bracket);
    const idExtras = bracket === -1 ? [] : identifier.slice(bracket + 1, -1).split(",");
    if (bracket !== -1) {
      // pip adds the extra-less identifier's explicit candidates and specifiers to an extras identifier's.
      for (const r of requirements(name)) {
        if (r.kind === "explicit") explicit.push(this.candidateFor(name, idExtras, r.candidate.version, r.candidate.file as IndexFile));
        else if (r.kind === "specifier") specifierReqs.push(r);
      }
    }
    const constraint = this.constraints.get(identifier);
    if (explicit.length > 0) {
      const unique = explicit.filter((c, i) => explicit.findIndex((d) => sameCandidate(c, d)) === i);
      return unique.filter((c) => !isIncompatible(c) && (!constraint || constraint.contains(c.version, { prereleases: true })) && own.every((r) => this.isSatisfiedBy(r, c)));
    }
    const specifier = new SpecifierSet([...(constraint ?? []), ...specifierReqs.flatMap((r) => [...r.specifier])]);
    const extras = [...new Set(specifierReqs.flatMap((r) => r.extras))].sort();
    const ranked = await this.ranked(name);
    const allowed = new Set(specifier.filter(ranked.map((r) => r.version.toString()), { prereleases: this.source.allowAllPrereleases ? true : null }));
    const applicable = ranked.filter((r) => allowed.has(r.version.toString()));
    // PEP 592: yanked files count only when the specifier pins exactly and nothing else fits.
    const allYanked = applicable.every((r) => r.yanked);
    const pinned = [...specifier].some((s) => s.operator === "===" || (s.operator === "==" && !s.version.endsWith(".*")));
    const seen = new Set<string>();
    const out: Candidate[] = [];
    for (const r of [...applicable].reverse()) {
      const key = r.version.toString();
      if (seen.has(key)) continue;
      if (r.yanked && !(allYanked && pinned)) continue;
      seen.add(key);
      if (r.yanked) this.source.onWarning(`${r.file.filename} is yanked${r.file.yanked ? ` (reason: ${r.file.yanked})` : ""}; it is used because ${identifier}${specifier.toString()} pins it`);
      const candidate = this.candidateFor(name, extras, r.version, r.file);
      if (!isIncompatible(candidate)) out.push(candidate);
    }
    return out;
  }

  isSatisfiedBy(requirement: ResolverRequirement, candidate: Candidate): boolean {
    if (requirement.kind === "explicit") return sameCandidate(requirement.candidate, candidate);
    return requirement.specifier.contains(candidate.version, { prereleases: true });
  }

  requirementsFrom(text: string, requestedExtras: readonly string[]): ResolverRequirement[] {
    return requirementsFrom(text, requestedExtras, this.source.markers);
  }

  getDependencies(candidate: Candidate): Promise<ResolverRequirement[]> {
    let pending = this.dependencies.get(candidate);
    if (!pending) {
      pending = this.computeDependencies(candidate);
      this.dependencies.set(candidate, pending);
    }
    return pending;
  }

  private async computeDependencies(candidate: Candidate): Promise<ResolverRequirement[]> {
    if (candidate === this.pythonCandidate) return [];
    const metadata = await this.source.metadata(candidate.base ?? candidate);
    const requiresDist = metadata.requiresDist.flatMap((line) => {
      try {
        return [new Requirement(line)];
      } catch {
        this.source.onWarning(`${candidate.name} ${candidate.version.toString()} has an invalid Requires-Dist "${line}": ignored, as pip does`);
        return [];
      }
    });
    if (candidate.base) {
      const provided = new Set<string>(metadata.providesExtra.map((e) => canonicalizeName(e)));
      const valid = candidate.extras.filter((e) => provided.has(e));
      for (const extra of candidate.extras.filter((e) => !provided.has(e))) this.source.onWarning(`${candidate.name} ${candidate.version.toString()} does not provide the extra '${extra}'`);
      const out: ResolverRequirement[] = [{ kind: "explicit", identifier: candidate.name, name: candidate.name, candidate: candidate.base, text: `${candidate.name}==${candidate.version.toString()}` }];
      for (const r of requiresDist) {
        if (!r.marker || valid.some((extra) => r.marker?.evaluate({ ...this.source.markers, extra }))) out.push(...this.requirementsFrom(r.toString(), valid));
      }
      return out;
    }
    // pip 24 yields Requires-Python after the dependencies: which conflict is met first decides the reported cause.
    const out: ResolverRequirement[] = [];
    for (const r of requiresDist) {
      if (!r.marker || r.marker.evaluate({ ...this.source.markers, extra: "" })) out.push(...this.requirementsFrom(r.toString(), []));
    }
    if (metadata.requiresPython) {
      let specifier: SpecifierSet | null = null;
      try {
        specifier = new SpecifierSet(metadata.requiresPython);
      } catch {
        // pip ignores an unreadable Requires-Python
      }
      if (specifier && specifier.size > 0) out.push({ kind: "python", identifier: PYTHON_IDENTIFIER, name: PYTHON_IDENTIFIER, specifier, text: `Requires-Python ${metadata.requiresPython}` });
    }
    return out;
  }

  /** pip's `get_preference` tuple (pip 23.1–24.x), including its quirk that `direct` is true whenever information exists. */
  getPreference(identifier: string, information: (id: string) => RequirementInformation[], backtrackCauses: RequirementInformation[]): (boolean | number | string)[] {
    const infos = information(identifier);
    const hasInformation = infos.length > 0;
    const operators = infos.flatMap((i) => (i.requirement.kind === "specifier" ? [...i.requirement.specifier].map((s) => s.operator as string) : []));
    const direct = hasInformation;
    const pinned = operators.some((op) => op.startsWith("=="));
    const unfree = operators.length > 0;
    let inferredDepth: number;
    if (this.userRequested.has(identifier)) inferredDepth = 1;
    else if (hasInformation) inferredDepth = Math.min(...infos.map((i) => (i.parent ? (this.knownDepths.get(i.parent.identifier) ?? Infinity) : 0))) + 1;
    else inferredDepth = Infinity;
    this.knownDepths.set(identifier, inferredDepth);
    const requestedOrder = this.userRequested.get(identifier) ?? Infinity;
    const backtrackCause = backtrackCauses.some((c) => c.requirement.identifier === identifier || c.parent?.identifier === identifier);
    return [identifier !== PYTHON_IDENTIFIER, !direct, !pinned, !backtrackCause, inferredDepth, requestedOrder, !unfree, identifier];
  }
}

function comparePreference(a: (boolean | number | string)[], b: (boolean | number | string)[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as boolean | number | string;
    const y = b[i] as boolean | number | string;
    if (x === y) continue;
    if (typeof x === "string" && typeof y === "string") return x < y ? -1 : 1;
    return Number(x) < Number(y) ? -1 : 1;
  }
  return 0;
}

export interface ResolutionResult {
  mapping: Map<string, Candidate>;
  criteria: Map<string, Criterion>;
}

/** resolvelib's `Resolution`, async because candidates and dependencies come from the network. */
export class Resolution {
  private states: State[] = [];

  private readonly p: PipProvider;

  constructor(p: PipProvider) {
    this.p = p;
  }

  private get state(): State {
    return this.states[this.states.length - 1] as State;
  }

  /** Criteria seen when pinning last failed: backjumping discards states, the explanation still needs them. */
  private criteriaAtFailure = new Map<string, Criterion>();

  private impossible(causes: RequirementInformation[]): ResolutionImpossible {
    const error = new ResolutionImpossible(causes);
    error.criteria = new Map([...this.criteriaAtFailure, ...this.states.flatMap((state) => [...state.criteria.entries()])]);
    return error;
  }

  private pushNewState(): void {
    const base = this.state;
    this.states.push({ mapping: new Map(base.mapping), criteria: new Map(base.criteria), backtrackCauses: [...base.backtrackCauses] });
  }

  private async addToCriteria(criteria: Map<string, Criterion>, requirement: ResolverRequirement, parent: Candidate | null): Promise<void> {
    const identifier = requirement.identifier;
    const criterion = criteria.get(identifier);
    const incompatibilities = criterion ? [...criterion.incompatibilities] : [];
    const matches = await this.p.findMatches(
      identifier,
      (id) => [...(criteria.get(id)?.information.map((i) => i.requirement) ?? []), ...(id === identifier ? [requirement] : [])],
      (id) => [...(criteria.get(id)?.incompatibilities ?? []), ...(id === identifier ? incompatibilities : [])],
    );
    const information = [...(criterion?.information ?? []), { requirement, parent }];
    const updated: Criterion = { candidates: matches, information, incompatibilities };
    if (matches.length === 0) throw new RequirementsConflicted(updated);
    criteria.set(identifier, updated);
  }

  private removeInformationFromCriteria(criteria: Map<string, Criterion>, parents: Set<string>): void {
    if (parents.size === 0) return;
    for (const [key, criterion] of criteria) {
      criteria.set(key, { ...criterion, information: criterion.information.filter((i) => i.parent === null || !parents.has(i.parent.identifier)) });
    }
  }

  private isCurrentPinSatisfying(name: string, criterion: Criterion): boolean {
    const pin = this.state.mapping.get(name);
    return pin !== undefined && criterion.information.every((i) => this.p.isSatisfiedBy(i.requirement, pin));
  }

  private async updatedCriteria(candidate: Candidate): Promise<Map<string, Criterion>> {
    const criteria = new Map(this.state.criteria);
    for (const requirement of await this.p.getDependencies(candidate)) await this.addToCriteria(criteria, requirement, candidate);
    return criteria;
  }

  private async attemptToPinCriterion(name: string): Promise<Criterion[]> {
    const criterion = this.state.criteria.get(name) as Criterion;
    const causes: Criterion[] = [];
    for (const candidate of criterion.candidates) {
      let criteria: Map<string, Criterion>;
      try {
        criteria = await this.updatedCriteria(candidate);
      } catch (error) {
        if (error instanceof RequirementsConflicted) {
          causes.push(error.criterion);
          continue;
        }
        throw error;
      }
      for (const [key, value] of criteria) this.state.criteria.set(key, value);
      this.state.mapping.delete(name);
      this.state.mapping.set(name, candidate);
      return [];
    }
    return causes;
  }

  private async backjump(causes: RequirementInformation[]): Promise<boolean> {
    const incompatibleDeps = new Set([...causes.flatMap((c) => (c.parent ? [c.parent.identifier] : [])), ...causes.map((c) => c.requirement.identifier)]);
    while (this.states.length >= 3) {
      this.states.pop();
      let brokenState: State;
      let name: string;
      let candidate: Candidate;
      for (;;) {
        const popped = this.states.pop();
        const last = popped ? [...popped.mapping.entries()].pop() : undefined;
        if (!popped || !last) throw this.impossible(causes);
        [name, candidate] = last;
        popped.mapping.delete(name);
        brokenState = popped;
        const dependencies = new Set((await this.p.getDependencies(candidate)).map((d) => d.identifier));
        if ([...dependencies].some((d) => incompatibleDeps.has(d))) break;
      }
      const fromBroken: [string, Candidate[]][] = [...brokenState.criteria.entries()].map(([k, v]) => [k, [...v.incompatibilities]]);
      fromBroken.push([name, [candidate]]);
      this.pushNewState();
      if (await this.patchCriteria(fromBroken)) return true;
    }
    return false;
  }

  private async patchCriteria(fromBroken: [string, Candidate[]][]): Promise<boolean> {
    for (const [k, incompatibilities] of fromBroken) {
      if (incompatibilities.length === 0) continue;
      const criterion = this.state.criteria.get(k);
      if (!criterion) continue;
      const criteria = this.state.criteria;
      const matches = await this.p.findMatches(
        k,
        (id) => criteria.get(id)?.information.map((i) => i.requirement) ?? [],
        (id) => [...(criteria.get(id)?.incompatibilities ?? []), ...(id === k ? incompatibilities : [])],
      );
      if (matches.length === 0) return false;
      incompatibilities.push(...criterion.incompatibilities);
      criteria.set(k, { candidates: matches, information: [...criterion.information], incompatibilities });
    }
    return true;
  }

  async resolve(requirements: ResolverRequirement[], maxRounds: number): Promise<ResolutionResult> {
    this.states = [{ mapping: new Map(), criteria: new Map(), backtrackCauses: [] }];
    for (const r of requirements) {
      try {
        await this.addToCriteria(this.state.criteria, r, null);
      } catch (error) {
        if (error instanceof RequirementsConflicted) throw this.impossible(error.criterion.information);
        throw error;
      }
    }
    this.pushNewState();
    for (let round = 0; round < maxRounds; round++) {
      const unsatisfied = [...this.state.criteria.entries()].filter(([key, criterion]) => !this.isCurrentPinSatisfying(key, criterion)).map(([key]) => key);
      if (unsatisfied.length === 0) return buildResult(this.state);
      const satisfied = new Set([...this.state.criteria.keys()].filter((k) => !unsatisfied.includes(k)));
      const information = (id: string) => this.state.criteria.get(id)?.information ?? [];
      let name = unsatisfied[0] as string;
      let best = this.p.getPreference(name, information, this.state.backtrackCauses);
      for (const other of unsatisfied.slice(1)) {
        const preference = this.p.getPreference(other, information, this.state.backtrackCauses);
        if (comparePreference(preference, best) < 0) [name, best] = [other, preference];
      }
      const failures = await this.attemptToPinCriterion(name);
      if (failures.length > 0) {
        const causes = failures.flatMap((c) => c.information);
        this.criteriaAtFailure = new Map(this.state.criteria);
        const success = await this.backjump(causes);
        this.state.backtrackCauses.splice(0, this.state.backtrackCauses.length, ...causes);
        if (!success) throw this.impossible(this.state.backtrackCauses);
      } else {
        const newlyUnsatisfied = new Set([...this.state.criteria.entries()].filter(([key, criterion]) => satisfied.has(key) && !this.isCurrentPinSatisfying(key, criterion)).map(([key]) => key));
        this.removeInformationFromCriteria(this.state.criteria, newlyUnsatisfied);
        this.pushNewState();
      }
    }
    throw new VenvflowError("resolution_too_deep", `Resolution gave up after ${maxRounds} rounds of backtracking`, { fix: "pin some of the requirements to narrow the search" });
  }
}

/** resolvelib's `_build_result`: only pins still connected to the root through the criteria's parents. */
function buildResult(state: State): ResolutionResult {
  const keyOf = new Map<Candidate, string>([...state.mapping.entries()].map(([k, v]) => [v, k]));
  const connected = new Set<string | null>([null]);
  const hasRoute = (key: string, visiting: Set<string>): boolean => {
    if (connected.has(key)) return true;
    const criterion = state.criteria.get(key);
    if (!criterion || visiting.has(key)) return false;
    visiting.add(key);
    for (const info of criterion.information) {
      const parentKey = info.parent === null ? null : keyOf.get(info.parent);
      if (parentKey === undefined) continue;
      if (parentKey === null || connected.has(parentKey) || hasRoute(parentKey, visiting)) {
        connected.add(key);
        return true;
      }
    }
    return false;
  };
  for (const key of state.criteria.keys()) hasRoute(key, new Set());
  return { mapping: new Map([...state.mapping.entries()].filter(([k]) => connected.has(k))), criteria: state.criteria };
}
