/**
 * The seed's lesson: a module-level import of a shared module runs before the callable, which may not need it.
 * Worded once for doctor and the post-mortem, so the two say the same.
 */
export function moduleLevelNote(module: string, where: string, callable: string): { message: string; fix: string } {
  return {
    message: `the import is at module level of ${where} and unused by the callable ${callable}`,
    fix: `, or move "import ${module}" into the function that uses it (or split the module) so that ${callable} does not import it`,
  };
}
