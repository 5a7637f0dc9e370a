import { SymsrvError } from '../../errors.js';
import type { ByteSource } from '../../io/source.js';
import { MsfFile } from '../msf/msf.js';

/**
 * The identity of a PDB 7: the GUID and signature of the PDB info stream (stream 1) and the age
 * of the DBI stream (stream 3). Layouts as in LLVM's "The PDB Info Stream" and "The DBI Stream".
 */
export interface PdbIdentity {
  /** 16 bytes in file order (Data1-3 little-endian), as guidText() expects. */
  guid: Buffer;
  /**
   * The DBI stream's age: the one symbol servers and symchk use in keys, and the one the linker
   * writes into the image's RSDS record. Equal to infoAge unless an incremental link bumped only one.
   */
  age: number;
  /** The PDB info stream's age (what `llvm-pdbutil dump --summary` prints). */
  infoAge: number;
  /** The info stream's 32-bit signature (a timestamp, or a hash with /Brepro). */
  signature: number;
}

const PDB_INFO_STREAM = 1;
const DBI_STREAM = 3;
const INFO_HEADER_SIZE = 28; // version, signature, age, GUID
const DBI_NEW_HEADER_SIGNATURE = -1; // VersionSignature of every DBI header since VC 4.1

export async function readPdbIdentity(src: ByteSource): Promise<PdbIdentity> {
  const msf = await MsfFile.open(src);
  return readIdentityFromMsf(msf, src.name);
}

export async function readIdentityFromMsf(msf: MsfFile, name: string): Promise<PdbIdentity> {
  if (msf.streamCount <= PDB_INFO_STREAM || msf.streamSize(PDB_INFO_STREAM) < INFO_HEADER_SIZE) {
    throw new SymsrvError('E_BAD_PDB', `bad PDB ${name}: the PDB info stream (stream 1) is missing or shorter than ${INFO_HEADER_SIZE} bytes`, {
      subject: name,
    });
  }
  const info = await (await msf.stream(PDB_INFO_STREAM)).read(0, INFO_HEADER_SIZE, 'PDB info stream header');
  const signature = info.readUInt32LE(4);
  const infoAge = info.readUInt32LE(8);
  const guid = Buffer.from(info.subarray(12, 28));

  // A PDB without a DBI stream (or with a pre-VC4.1 DBI header, which has no age) still has an
  // identity: fall back to the info stream's age, the only one there is. Such files are rare
  // (type-only PDBs written by some tools) and lld/MSVC always write both, equal unless an
  // incremental link changed one.
  let age = infoAge;
  if (msf.streamCount > DBI_STREAM && msf.streamSize(DBI_STREAM) >= 12) {
    const dbi = await (await msf.stream(DBI_STREAM)).read(0, 12, 'DBI stream header');
    if (dbi.readInt32LE(0) === DBI_NEW_HEADER_SIGNATURE) age = dbi.readUInt32LE(8);
  }
  return { guid, age, infoAge, signature };
}
