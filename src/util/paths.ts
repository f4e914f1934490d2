// Checks of the paths a command is given, before any work starts: each problem becomes one
// InputError line naming the flag and the path (a missing folder, a file where a folder is needed,
// a path under a file, a special filesystem, a name too long, a folder that cannot be written).
import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { InputError, errnoCode } from './errors.js';

/** Kernel and device filesystems: writing there hangs or means nothing. */
const SPECIAL_ROOTS = ['/proc', '/sys', '/dev'];
/** Linux NAME_MAX (bytes per path component) and PATH_MAX. */
const NAME_MAX = 255;
const PATH_MAX = 4095;

function statOrUndefined(flag: string, path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') throw new InputError(`${flag}: ${path} is under a file, not a folder`);
    if (code === 'EACCES') throw new InputError(`${flag}: ${path}: permission denied`);
    if (code === 'ELOOP') throw new InputError(`${flag}: ${path}: too many symbolic links`);
    throw new InputError(`${flag}: ${path}: cannot access (${code ?? 'error'})`);
  }
}

/** Refuses empty, over-long and special-filesystem paths; returns the absolute path. */
function checkName(flag: string, path: string): string {
  if (path.trim() === '') throw new InputError(`${flag}: empty path`);
  if (path.includes('\0')) throw new InputError(`${flag}: the path contains a NUL byte`);
  const abs = resolve(path);
  if (Buffer.byteLength(abs) > PATH_MAX) throw new InputError(`${flag}: path longer than ${PATH_MAX} bytes`);
  const long = abs.split(sep).find((c) => Buffer.byteLength(c) > NAME_MAX);
  if (long !== undefined) throw new InputError(`${flag}: ${path}: the name '${long.slice(0, 24)}...' is longer than ${NAME_MAX} bytes`);
  const special = SPECIAL_ROOTS.find((r) => abs === r || abs.startsWith(r + '/'));
  if (special !== undefined) throw new InputError(`${flag}: ${path} is on a special filesystem (${special})`);
  return abs;
}

/** The nearest folder at or above `abs` that exists; it must be a writable folder. */
function checkWritableAncestor(flag: string, path: string, abs: string): void {
  let dir = abs;
  for (;;) {
    const st = statOrUndefined(flag, dir);
    if (st !== undefined) {
      if (!st.isDirectory()) throw new InputError(`${flag}: ${path} is under a file (${dir}), not a folder`);
      try {
        accessSync(dir, constants.W_OK | constants.X_OK);
      } catch {
        throw new InputError(`${flag}: ${path}: cannot write in ${dir}`);
      }
      return;
    }
    const up = dirname(dir);
    if (up === dir) throw new InputError(`${flag}: ${path}: no folder above it exists`);
    dir = up;
  }
}

/** An output folder: absent (it will be made) or a writable folder; never a file or under one. */
export function checkOutputDir(flag: string, path: string): void {
  const abs = checkName(flag, path);
  const st = statOrUndefined(flag, abs);
  if (st !== undefined && !st.isDirectory()) throw new InputError(`${flag}: ${path} is a file, not a folder`);
  checkWritableAncestor(flag, path, abs);
}

/** An output file: absent or a regular file (it will be replaced), in a folder that can be written. */
export function checkOutputFile(flag: string, path: string): void {
  const abs = checkName(flag, path);
  if (path.endsWith('/')) throw new InputError(`${flag}: ${path} names a folder, expected a file`);
  const st = statOrUndefined(flag, abs);
  if (st !== undefined && st.isDirectory()) throw new InputError(`${flag}: ${path} is a folder, expected a file`);
  if (st !== undefined && !st.isFile()) throw new InputError(`${flag}: ${path} is not a regular file`);
  checkWritableAncestor(flag, path, dirname(abs));
}

/** An input path that must exist and be a regular file ('file'), a folder ('dir') or either ('any'). */
export function checkInputPath(flag: string, path: string, kind: 'file' | 'dir' | 'any' = 'any'): void {
  if (path.trim() === '') throw new InputError(`${flag}: empty path`);
  if (path.includes('\0')) throw new InputError(`${flag}: the path contains a NUL byte`);
  const long = resolve(path).split(sep).find((c) => Buffer.byteLength(c) > NAME_MAX);
  if (long !== undefined) throw new InputError(`${flag}: ${path}: a name in it is longer than ${NAME_MAX} bytes`);
  const st = statOrUndefined(flag, path);
  if (st === undefined) throw new InputError(`${flag}: ${path}: no such ${kind === 'file' ? 'file' : kind === 'dir' ? 'folder' : 'file or folder'}`);
  if (!st.isFile() && !st.isDirectory()) throw new InputError(`${flag}: ${path} is not a regular file or folder`);
  if (kind === 'file' && !st.isFile()) throw new InputError(`${flag}: ${path} is a folder, expected a file`);
  if (kind === 'dir' && !st.isDirectory()) throw new InputError(`${flag}: ${path} is a file, expected a folder`);
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw new InputError(`${flag}: ${path}: permission denied`);
  }
}
