// One line for a failed schema parse: where the input came from, the field's path, and what was wrong.
import type { z } from 'zod';

/** One issue of a failed parse as one line naming `where` (a file or flag) and the field. An unknown
 * key is reported first: a misspelt key also makes the intended one look missing. */
export function formatIssues(where: string, error: z.ZodError): string {
  const issue = error.issues.find((i) => i.code === 'unrecognized_keys') ?? error.issues[0];
  if (issue === undefined) return `${where}: invalid`;
  // tiers.1.group_size -> tiers[1].group_size
  const path = issue.path.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i > 0 ? '.' : ''}${String(k)}`)).join('') || '(top level)';
  if (issue.code === 'unrecognized_keys') return `${where}: unknown key '${issue.keys.join("', '")}'${path === '(top level)' ? '' : ` in ${path}`}`;
  return `${where}: ${path}: ${issue.message}`;
}
