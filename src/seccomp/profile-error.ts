/** Where in a JSON document a problem sits: 1-based line and column. */
export interface TextPosition {
  line: number;
  column: number;
}

/**
 * A seccomp profile that cannot be used, with what is wrong and where: `source` names the
 * document (an OCI reference, a file), `path` the member (`syscalls[3].action`, `(root)` for the
 * whole document), and `position` the line and column when the text is not JSON at all.
 */
export class ProfileError extends Error {
  constructor(
    readonly source: string,
    readonly path: string,
    readonly problem: string,
    readonly position?: TextPosition,
  ) {
    super(
      position
        ? `seccomp profile from ${source}: not valid JSON: ${problem} at line ${position.line}, column ${position.column}`
        : `seccomp profile from ${source}: ${path}: ${problem}`,
    );
    this.name = 'ProfileError';
  }
}

/** The path of the whole document in a ProfileError. */
export const ROOT_PATH = '(root)';
