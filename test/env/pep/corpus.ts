/**
 * Test corpora for the differential tests: hand-picked edge cases plus a seeded, reproducible sample of
 * generated PEP 440 spellings.
 */

/** mulberry32: a tiny seeded PRNG so the generated corpus is the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

export const WEIRD_VERSIONS = [
  "1.0", "1.0.0", "1", "0", "0.0", "00", "01.02", "1.01", "v1.0", "V1.0", " 1.0", "1.0 ", "\t1.0\n", "  v2!3.4  ",
  "1.0-alpha1", "1.0alpha", "1.0.a1", "1.0-a-1", "1.0_beta_2", "1.0.BETA", "1.0c1", "1.0pre1", "1.0preview2",
  "1.0rc", "1.0RC1", "1.0-rc.1", "1.0.POST", "1.0.post", "1.0-post-1", "1.0-1", "1.0_r2", "1.0rev3", "1.0.r",
  "1.0.dev", "1.0dev1", "1.0-dev-2", "1.0.DEV3", "1.0a1.post2.dev3", "1.0b2-3", "1.0rc1-dev", "1.0.post1.dev0",
  "1!1.0", "0!1.0", "2!0.1", "1!1.0a1+local", "1.0+local", "1.0+Local.7", "1.0+ubuntu-1", "1.0+1", "1.0+01",
  "1.0+abc.5.def", "1.0+5.abc", "1.0+a_b-c.d", "1.0+local.", "1.0+", "1.0+.local", "1.0++x", "1.0+local+x",
  "1.0.0.0.0", "1.2.3.4.5.6", "2021.1.1", "1.0.99999999999999999999", "99999999999999999999.1",
  "1.0a0", "1.0b0", "1.0rc0", "1.0.post0", "1.0.dev0", "1.0a1.dev1", "1.0.post1a1", "1.0a1b1", "1.0.dev1.post1",
  "", " ", "foo", "1.0.foo", "1.0-", "1.0.", ".1.0", "1..0", "1.0.*", "1.*", "*", "1.0a1.*", "==1.0", "1,0",
  "1 .0", "1.0 a1", "1!", "!1.0", "1!!1.0", "-1.0", "1.0-_dev", "1.0--1", "1.0-post1-dev", "1.0a-1", "1.0a.1",
  "1.0.a.1", "1.0-a.1.post.2.dev.3", "1.0_post_4", "1.0\u00a0", "\u20031.0", "1.0\u200b", "1.0\ufeff", "١.٠",
  "1.0\n", "1.0\x1c", "1.0a\u0131", "1.0posT1", "1.0ALPHA1", "1.0-DEV", "0.0.0.dev0", "0.dev0", "1.0.0-rc.2+Build.5",
];

const EPOCHS = ["", "", "", "1!", "0!", "2!"];
const RELEASES = ["0", "1", "1.0", "1.0.0", "1.1", "1.2", "1.2.0", "2", "2.0", "0.9", "1.10", "10.0.1", "1.01"];
const PRES = ["", "", "", "a1", "a2", "b1", "rc1", "c1", "alpha", "-beta.3", "pre1", "preview2", ".RC1", "a0"];
const POSTS = ["", "", "", ".post1", "-1", "post", ".post0", "r2", ".rev3", "-post2"];
const DEVS = ["", "", "", ".dev0", "dev", "-dev5", ".dev1"];
const LOCALS = ["", "", "", "", "+local", "+ubuntu.1", "+1.abc", "+A-B_C", "+2", "+abc"];

/** `count` generated version spellings, most valid, many equal to each other after normalization. */
export function generatedVersions(count: number, seed = 440): string[] {
  const random = rng(seed);
  const out = new Set<string>();
  while (out.size < count) {
    out.add(pick(random, EPOCHS) + pick(random, RELEASES) + pick(random, PRES) + pick(random, POSTS) + pick(random, DEVS) + pick(random, LOCALS));
  }
  return [...out];
}

export const SPECIFIERS = [
  "==1.0", "== 1.0", " ==1.0 ", "==1.0.0", "==1", "==1.0+local", "==1.0+LOCAL.1", "==1.*", "==1.0.*", "==1.2.*",
  "==2!1.*", "==1.0a1", "==v1.0", "!=1.0", "!=1.*", "!=1.0.*", "!=1.0+local", "!=1.0a1", "<=1.0", "<=1.0a1",
  ">=1.0", ">=1.0a1", ">=1.0.dev0", ">= 1.0", "<1.0", "<1.0a1", "<1.0.post1", "<1.0.dev1", "<0.dev0", "<1!0",
  ">1.0", ">1.0a1", ">1.0.post1", ">1.0.dev1", ">1.0b1.post1", ">1!1.0", "~=1.0", "~=1.0.0", "~=1.2.3", "~=1.0a1",
  "~=1!1.0", "~=1.0.post1", "~=1.0.dev1", "~=2.2.post3", "~=v1.0", "===1.0", "===1.0.foo", "===foo", "=== 1.0",
  "===", "===1.0+local", "~=1", "==1.0.*+local", "<=1.0+local", ">1.*", "~=1.*", "=1.0", "1.0", ">=", "==",
  "==1.0a1.*", ">=1.0,<2", "<>1.0", "==1.0-1", "==1.0-rc1", ">=1.0_dev", "==1.0.", "~= 1.4.5a4", "==1.0.POST",
  "===1.0.POST", "==1.0+a_b", "==1!1.0", "<=1.0.post1", ">=1.0+local", "< 2", ">2.0.dev1",
  // Python's whitespace is not JavaScript's: U+3000 and U+001C strip, U+FEFF does not.
  "\u3000==1.0", "==\u30001.0", ">=1.0\x1c", "===\u00a0foo", ">=1.0\ufeff", "\x85<2", "===1.0\u2003",
];

export const SPECIFIER_SETS = [
  "", " ", ",", ">=1.0,<2.0", ">=1.0, <2.0, !=1.5", "!=1.5,>=1.0,<2.0", ">=1.0,>=1.0.0", "==1.0,==1.0.0",
  ">=1.0a1,<2", ">=1.0,<2.0a1", "~=1.0,!=1.1.*", ">1.0,<1.0.post2", "<1.0,>=1.0", "===1.0,==1.0", "===foo",
  "===foo,===FOO", "===1.0,>0.9", ">=1.0 , <= 2.0", "==1.*,!=1.0.*", "!=1.0,!=1.0.0", ">=0.dev0", ">=1.0rc1",
  "<2,>=1", ">=1.0,,<2", ">=1.0;", "foo", ">=1.0,foo", "~=1.4.5a4", "~=1.0,~=1.0.0", ">1.0a1,<1.0",
  "==1.0+local,>=1.0", ">=2!0,<2!2", ">=1.0.dev1,<=1.0a5", "!=1.0a1", "==1.0.*,!=1.0a1",
  // Unsatisfiable, or only satisfiable by pre-releases.
  ">=2.0,<1.0", "==1.0,!=1.0", ">1.0,<1.0.post1", "<=1.0,>1.0", "==1.*,!=1.*", "~=1.0,<1.0", ">=1.0a1,<1.0",
  "==1.0+local,!=1.0", "<0.dev0", "<1.0,>=1.0.dev0", ">1.0,<=1.0+local", ">1.0.post1,<1.0.post2", ">1.0.dev1,<1.0.dev2",
  "==1.0,==1.0+local", "==1.0+local,==1.0+other", "===1.0,===1.0.0", "===foo,>=1", "===1.0a1", "===1.0a1,>=0.1",
  "<=1.0a1,>=1.0a1", ">=1.0a1,<=1.0a1", "<1.0.post1,>1.0", ">=1.0,<1.0.1.dev0", "==2.*,<2.0", "!=2.*,>=2,<3",
  ">1.0a1,<1.0a2", ">1.0rc1,<1.0", "<=1.0.post0,>1.0", ">=1!0,<1", "~=1.0.post1,<1.0.post1", "<1,>0.9.post0",
  ">=1.0,\u2003<2", ">=1.0,\ufeff<2", "\x1c,>=1",
];

/** Versions that contains()/filter() are checked against: valid, pre-release, local, post and non-versions. */
export const CONTAINS_ITEMS = [
  "0.9", "1.0", "1.0.0", "1", "1.0+local", "1.0+LOCAL.1", "1.0a1", "1.0a1+local", "1.0a2", "1.0b1.post1",
  "1.0rc1", "1.0.dev0", "1.0.dev1", "1.0.dev2", "1.0.post0", "1.0.post1", "1.0.post1.dev0", "1.0.post2", "1.0.1",
  "1.1", "1.1.dev1", "1.1.post1", "1.2", "1.2.3", "1.2.3a1", "1.4.5", "1.4.5a4", "1.4.6", "1.5", "1.5a1", "1.9",
  "1.99", "2", "2.0", "2.0a1", "2.0.dev1", "2.0.post1", "2.2.post3", "2.3", "3.0", "1!1.0", "1!1.0a1", "2!1.0",
  "0", "0.dev0", "v1.0", " 1.0", "1.0.POST", "foo", "FOO", "1.0.foo", "1.0-1", "", "1.0+a-b",
];

export const FILTER_CASES: { spec: string; items: string[]; prereleases?: boolean | null; setPrereleases?: boolean | null }[] = [
  { spec: ">=1.2.3", items: ["1.2", "1.3", "1.5a1"] },
  { spec: ">=1.2.3", items: ["1.2", "1.5a1"] },
  { spec: ">=1.2.3", items: ["1.3", "1.5a1"], prereleases: true },
  { spec: ">=1.2.3", items: ["1.3", "1.5a1"], setPrereleases: true },
  { spec: "", items: ["1.3", "1.5a1"] },
  { spec: "", items: ["1.5a1"] },
  { spec: "", items: ["1.5a1", "foo", "1.3", "bar"] },
  { spec: "", items: ["1.3", "1.5a1"], prereleases: false },
  { spec: ">=1.0,<2", items: ["0.5", "1.0a1", "1.0", "1.5rc1", "1.9", "2.0"] },
  { spec: ">=1.0,<2", items: ["1.0a1", "1.5rc1"] },
  { spec: ">=1.0,<2", items: ["1.0a1", "1.5rc1"], prereleases: false },
  { spec: ">=1.0a1", items: ["1.0a1", "1.0", "1.1b1"] },
  { spec: "===foo", items: ["foo", "FOO", "bar", "1.0"] },
  { spec: "===1.0,>0.5", items: ["1.0", "1.0.0", "foo"] },
  { spec: "!=1.0", items: ["1.0a1", "1.0", "1.1a1"] },
  { spec: "!=1.0", items: ["1.0a1", "1.1a1"] },
  { spec: "~=1.0", items: ["1.0", "1.1", "2.0", "1.5a1", "1.0+local"] },
  { spec: ">=1", items: ["foo", "1.5a1", "1.4"] },
  { spec: "==1.*,!=1.0.*", items: ["0.9", "1.0.5", "1.1", "1.1a1", "2.0"] },
  { spec: ">1.0", items: ["1.0.post1", "1.0+local", "1.1.dev0", "1.1"], setPrereleases: false },
];

export const MARKERS = [
  'python_version == "2.7"', "python_version=='3.8'", 'python_version >= "3.8"', 'python_version < "3.10"',
  'python_version > "3"', 'python_version ~= "3.8"', 'python_version == "3.*"', 'python_version != "3.12.*"',
  'python_version === "3.8"', 'python_version in "2.7 3.8"', 'python_version not in "3.12 3.13"',
  'python_full_version >= "3.8.0rc1"', 'python_full_version < "3.12.1+local"',
  'sys_platform == "linux"', 'sys_platform == "win32" or sys_platform == "cygwin"', "sys_platform != 'win32'",
  'sys.platform == "linux"', 'os.name == "posix"', 'os_name == "nt"', 'platform_system == "Linux"',
  'platform.machine == "x86_64"', 'platform_machine in "x86_64 aarch64"', '"x86" in platform_machine',
  'platform_python_implementation == "CPython"', 'python_implementation == "CPython"',
  'implementation_name == "cpython"', 'implementation_version >= "3.8"', 'platform_release >= "5.0"',
  'platform_version == "#1 SMP"', 'platform_release < "foo"', 'platform_release ~= "foo"', '"3.8" < python_version',
  '"3.*" == python_version', '"linux" == sys_platform', '"cpython" != implementation_name',
  'extra == "test"', 'extra == "Test_Extra"', '"test" == extra', 'extra != "doc"', 'extra == "test.extra"',
  '"dev" in extras', '"Dev_Tools" in extras', '"dev" not in extras', '"main" in dependency_groups',
  'python_version > "3.6" or (python_version == "3.6" and os_name == "unix")',
  '(python_version >= "3.8" and sys_platform == "linux") or extra == "all"',
  'python_version >= "3.8" and sys_platform == "linux" or python_version < "3"',
  'python_version < "3" or python_version >= "3.8" and sys_platform == "win32"',
  '((python_version >= "3.8"))', '( python_version >= "3.8" )', '(python_version >= "3.8") and (extra == "x")',
  'python_version >= "3.8"and sys_platform == "linux"', 'python_version>="3.8"', "os_name=='posix'and extra=='x'",
  'python_version == "3.8" and (sys_platform == "linux" or (sys_platform == "win32" and extra == "win"))',
  'python_version >= \'3.8\' and "linux" in sys_platform', 'platform_machine == "x86_64\\n"',
  "sys_platform == 'lin\\x75x'", 'sys_platform == "lin\\u0075x"', "sys_platform == 'linux\\'",
  'python_version == python_full_version', '"a" == "b"', 'extras == "dev"', 'extra in "test,doc"',
  "", "python_version", 'python_version ==', '== "3.8"', 'python_version = "3.8"', 'python_version == 3.8',
  'python_version == "3.8" and', 'python_version == "3.8" or or', '(python_version == "3.8"',
  'python_version == "3.8")', 'python_version not "3.8"', 'python_version notin "3.8"', 'foo == "bar"',
  'python_version == "3.8" xor extra == "x"', 'python_version == "3.8";', "python_version == '3.8\"",
  'python_version < "3.8" and\textra == "x"', '  python_version < "3.8"  ', 'python_version\n== "3.8"',
  'Python_Version == "3.8"', 'python_version == "3.8" AND extra == "x"', 'extra == "Foo" or extra == "foo"',
  'python_version <= "2.7.18"', 'python_version > "3.12"', 'python_version == "3.8.0"', "python_version >= '3.8a1'",
];

const LINUX = {
  implementation_name: "cpython",
  os_name: "posix",
  platform_machine: "x86_64",
  platform_release: "6.1.0-13-amd64",
  platform_system: "Linux",
  platform_version: "#1 SMP",
  platform_python_implementation: "CPython",
  sys_platform: "linux",
};

const WINDOWS = {
  implementation_name: "cpython",
  os_name: "nt",
  platform_machine: "AMD64",
  platform_release: "10",
  platform_system: "Windows",
  platform_version: "10.0.19045",
  platform_python_implementation: "CPython",
  sys_platform: "win32",
};

function py(full: string): { python_version: string; python_full_version: string; implementation_version: string } {
  return { python_version: full.split(".").slice(0, 2).join("."), python_full_version: full, implementation_version: full };
}

export interface MarkerEnvCase {
  context?: "metadata" | "lock_file" | "requirement";
  /** Lists stand for Python frozensets (`extras`, `dependency_groups`). */
  values: Record<string, string | string[]>;
}

export const MARKER_ENVIRONMENTS: MarkerEnvCase[] = [
  { values: { ...LINUX, ...py("2.7.18") } },
  { values: { ...LINUX, ...py("3.8.18") } },
  { values: { ...LINUX, ...py("3.12.1") } },
  { values: { ...WINDOWS, ...py("3.12.1") } },
  { values: { ...WINDOWS, ...py("3.8.0rc1") } },
  { values: { ...LINUX, ...py("3.12.1+"), extra: "Test_Extra" } },
  { values: { ...LINUX, ...py("3.8.18"), extra: "test" } },
  { values: { ...WINDOWS, ...py("3.12.1"), extra: "WIN" } },
  { context: "requirement", values: { ...LINUX, ...py("3.12.1") } },
  { context: "lock_file", values: { ...LINUX, ...py("3.12.1") } },
  { context: "lock_file", values: { ...LINUX, ...py("3.12.1"), extras: ["dev-tools", "Test"], dependency_groups: ["main"] } },
  { values: { ...LINUX, ...py("3.10.0"), platform_release: "foo", extra: "" } },
];

export const REQUIREMENTS = [
  // PEP 508's own examples.
  "A", "A.B-C_D", "aa", "name", "name<=1", "name>=3", "name>=3,<2", "name@http://foo.com",
  "name [fred,bar] @ http://foo.com ; python_version=='2.7'", 'name [fred,bar] @ http://foo.com ; python_version=="2.7"',
  "name[quux, strange];python_version<'2.7' and platform_version=='2'", "name; os_name=='a' or os_name=='b'",
  "name; os_name=='a' and os_name=='b' or os_name=='c'", "name; os_name=='a' and (os_name=='b' or os_name=='c')",
  "name; os_name=='a' or os_name=='b' and os_name=='c'", "name; (os_name=='a' or os_name=='b') and os_name=='c'",
  "zope.interface (>=3.5.0)", "zope.interface>=3.5.0", "requests [security,tests] >= 2.8.1, == 2.8.* ; python_version < \"2.7\"",
  "pip @ https://github.com/pypa/pip/archive/1.3.1.zip#sha1=da9234ee9982d4bbb3c72346a6de940a148ea686",
  "name===1.0.foo", "name ===1.0.foo", "name === 1.0.foo", "name===1.0,>=2", "name===a,b",
  "Django[Bcrypt, Argon2] ~= 4.2 ; extra == 'Auth_Extra'", "foo[]", "foo[ ]", "foo [ a ]", "foo[a,a,b]",
  "foo (>=1.0, <2.0)", "foo ( >=1.0 )", "foo()", "foo (==1.0.*)", "foo==1.0.*", "foo!=1.0.*,<3", "foo (~=1.0)",
  "foo>=1.0 ; python_version>='3.8' and extra=='Test_X'", "foo; extra == 'Dev.Tools'", 'foo;extra=="A"',
  "foo @ file:///tmp/foo.whl", "foo @ file:///tmp/foo.whl ", "foo @ file:///tmp/foo.whl ; sys_platform == 'linux'",
  "foo@file:///tmp/foo.whl;sys_platform=='linux'", "foo @ https://h/f.whl;python_version>'3'", "foo @ ",
  "foo@", "foo @ https://h/f.whl extra", "  foo  ", "foo\n", "foo >=1.0\n", "foo>=1.0+local", "foo>=1.0.*",
  "foo==1.0+local", "foo<=1.0+local", "foo>1.*", "foo ~= 1", "foo >= 1.0 foo", "foo >=1.0 <2", "foo[bar baz]",
  "foo[bar,]", "foo[,bar]", "foo[bar", "foo (>=1.0", "foo >=1.0)", "[foo]", "", " ", "-foo", "foo-", "foo_",
  "foo.", "_foo", "fo o", "foo; ", "foo;", "foo ; python_version", "foo; python_version == '3.8' and",
  "foo; os.name == 'posix'", "foo; python_implementation == 'CPython'", "foo[a]; (extra == 'a')",
  "foo==1.0 ; extra == 'x' or (python_version < '3' and sys_platform != 'win32')", "foo >= 1.0, != 1.5",
  "foo>=1.0,,<2", "foo>=1.0,", "foo,>=1.0", "foo (>=1.0) ; python_version > '3'", "foo>=1.0;python_version>'3'",
  "foo==1.0-1", "foo==v1.0", "foo==1.0RC1", "foo ==1.0.POST", "foo~=1.0a1", "foo<>1.0", "foo=1.0", "foo==",
  "foo>=1.0 ;; python_version > '3'", "foo; python_version > '3' ; extra == 'x'", "über", "foo\tbar",
  "foo\t>=\t1.0", "foo @ http://h/f.whl\t; extra == 'x'", "Foo.Bar_Baz-Qux[Extra.One,extra_two]>=1.0",
  "fooü>=1", "foo[bär]", "foo; sys_platform == 'lïnux'", "foo===\u3000x", "foo== 1.0", "foo\u3000>=1",
  "foo; python_version >= '3.8'\n", "foo ; extra == 'ß'", "foo; 'ǅ' == extra",
];

export const NAMES = [
  "Django", "oslo.concurrency", "requests", "Foo__Bar", "foo-_-bar", "A.B-C_D", "foo", "foo-bar", "foo--bar",
  "-foo", "foo-", "FOO", "f", "", "über", "a.b.c", "a_b", "1foo", "foo1", "foo.-bar",
];

export const WHEELS = [
  "foo-1.0-py3-none-any.whl", "foo-1.0-1-py3-none-any.whl", "foo-1.0-1abc-py2.py3-none-any.whl",
  "Foo_Bar-1.0.POST1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "foo-1.0-py3-none-any.tar.gz",
  "foo-1.0-py3-none.whl", "foo-1.0-1-2-py3-none-any.whl", "foo__bar-1.0-py3-none-any.whl", "foo-bar-1.0-py3-none-any.whl",
  "foo-1.0.x-py3-none-any.whl", "foo-1.0-abc-py3-none-any.whl", "foo-1.0-py3-none-any.WHL", "foo.bar-2!1.0+local-py3-none-any.whl",
  "numpy-2.1.0-cp313-cp313t-win_amd64.whl", "foo-1.0-PY3-None-ANY.whl", "föo-1.0-py3-none-any.whl", "foo-1.0-py3.py2-none-any.whl",
];

export const SDISTS = [
  "foo-1.0.tar.gz", "foo-bar-1.0.zip", "Foo_Bar-1.0.POST1.tar.gz", "foo-1.0.tar.bz2", "foo.tar.gz", "foo-x.tar.gz",
  "foo-1.0-1.tar.gz", "foo-.zip",
];

const OPERATORS = ["==", "!=", "<=", ">=", "<", ">", "~=", "===", " == ", ">= ", "=", "=>"];

/** Operators applied to generated versions (with and without wildcards): many valid, some not. */
export function generatedSpecifiers(count: number, seed = 508): string[] {
  const random = rng(seed);
  const versions = generatedVersions(200, seed + 1);
  const out = new Set<string>();
  while (out.size < count) {
    const version = pick(random, versions);
    const wildcard = random() < 0.15 ? ".*" : "";
    out.add(pick(random, OPERATORS) + version + wildcard);
  }
  return [...out];
}

const REQ_NAMES = ["foo", "Foo.Bar", "foo_bar-baz", "A", "x1", "-bad", "foo.", "zope.interface"];
const REQ_EXTRAS = ["", "", "[a]", "[a,b]", "[ b , a ]", "[A_B.c]", "[]", "[a b]", "[a,]"];
const REQ_SPECS = ["", "", ">=1.0", "==1.0.*", " (>=1.0,<2)", "~=2.2", "!=1.5, >1", "===1.0.foo", ">=1.0 <2", "(==1.0", "<1.0+local", ">=1.*"];
const REQ_URLS = ["", "", "", " @ https://example.com/foo-1.0.whl", "@ file:///tmp/x.whl", " @ "];
const REQ_MARKERS = [
  "", "", "; python_version >= '3.8'", ';extra == "Test"', " ; os_name == 'nt' or (sys_platform == \"linux\" and extra=='x')",
  "; python_version", ";", "; 'a' in extras", "; (python_version < '3'", " ; platform_machine not in 'arm64 aarch64'",
];
const REQ_WS = ["", "", " ", "\t", "  "];

/** Requirement strings assembled from fragments, so valid and invalid combinations both occur. */
export function generatedRequirements(count: number, seed = 685): string[] {
  const random = rng(seed);
  const out = new Set<string>();
  while (out.size < count) {
    const ws = (): string => pick(random, REQ_WS);
    const url = pick(random, REQ_URLS);
    const spec = url ? "" : pick(random, REQ_SPECS);
    out.add(ws() + pick(random, REQ_NAMES) + ws() + pick(random, REQ_EXTRAS) + ws() + spec + url + ws() + pick(random, REQ_MARKERS) + ws());
  }
  return [...out];
}

const MARKER_VARS = ["python_version", "python_full_version", "sys_platform", "os_name", "platform_machine", "extra", "implementation_name", "platform_release"];
const MARKER_VALUES = ["'3.8'", '"3.12"', "'2.7'", "'linux'", '"win32"', "'x86_64'", "'test'", "'Test_Extra'", "'3.*'", "'6.1'", "'cpython'", "'posix'", "''"];
const MARKER_OPS = ["==", "!=", "<", "<=", ">", ">=", "~=", "in", "not in", "==="];

/** Random and/or/parenthesized marker expressions over the standard variables. */
export function generatedMarkers(count: number, seed = 345): string[] {
  const random = rng(seed);
  const item = (): string => {
    const variable = pick(random, MARKER_VARS);
    const value = pick(random, MARKER_VALUES);
    const op = pick(random, MARKER_OPS);
    return random() < 0.8 ? `${variable} ${op} ${value}` : `${value} ${op} ${variable}`;
  };
  const expr = (depth: number): string => {
    const n = 1 + Math.floor(random() * 3);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      if (i > 0) parts.push(random() < 0.5 ? "and" : "or");
      parts.push(depth < 2 && random() < 0.3 ? `(${expr(depth + 1)})` : item());
    }
    return parts.join(" ");
  };
  const out = new Set<string>();
  while (out.size < count) out.add(expr(0));
  return [...out];
}
