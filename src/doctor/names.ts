/**
 * Import names whose distribution is called something else. Used when the package index cannot say (no index
 * configured, unreachable, or too large to list); kept to well-known, unambiguous cases.
 */
export const KNOWN_DISTRIBUTIONS: Readonly<Record<string, string>> = {
  yaml: "PyYAML",
  sklearn: "scikit-learn",
  skimage: "scikit-image",
  cv2: "opencv-python",
  PIL: "Pillow",
  bs4: "beautifulsoup4",
  dateutil: "python-dateutil",
  dotenv: "python-dotenv",
  jwt: "PyJWT",
  jose: "python-jose",
  magic: "python-magic",
  docx: "python-docx",
  pptx: "python-pptx",
  multipart: "python-multipart",
  slugify: "python-slugify",
  Crypto: "pycryptodome",
  OpenSSL: "pyOpenSSL",
  nacl: "PyNaCl",
  serial: "pyserial",
  usb: "pyusb",
  zmq: "pyzmq",
  git: "GitPython",
  github: "PyGithub",
  MySQLdb: "mysqlclient",
  psycopg2: "psycopg2-binary",
  pymysql: "PyMySQL",
  ldap: "python-ldap",
  attr: "attrs",
  google: "google-api-python-client",
  googleapiclient: "google-api-python-client",
  kafka: "kafka-python",
  snowflake: "snowflake-connector-python",
  fitz: "PyMuPDF",
  Levenshtein: "python-Levenshtein",
  markdown: "Markdown",
  win32api: "pywin32",
  gi: "PyGObject",
  wx: "wxPython",
  sentry_sdk: "sentry-sdk",
  pkg_resources: "setuptools",
};

/** The distribution the table names for an import, or null when it is not a known mismatch. */
export function knownDistribution(topLevel: string): string | null {
  return Object.hasOwn(KNOWN_DISTRIBUTIONS, topLevel) ? (KNOWN_DISTRIBUTIONS[topLevel] as string) : null;
}
