import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { SymsrvError } from '../errors.js';

/** A TARGET named on a command line: it must exist (else E_IO naming it, exit 2). */
export async function statTarget(target: string): Promise<Stats> {
  try {
    return await stat(target);
  } catch (err) {
    throw new SymsrvError('E_IO', `cannot read ${target}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { subject: target });
  }
}
