/**
 * The lab's build pipeline signs what it builds: for each image, an in-toto statement with a SLSA
 * v1 provenance predicate (subject: the image id; builder: driftless-lab; source: a content hash
 * of the image's build inputs under lab/images/, and the git commit when the checkout is clean),
 * in a Sigstore bundle signed with the lab's provenance key, kept by digest in the lab's state
 * directory (the lab config's policy.provenance.bundles).
 *
 * The source is the build inputs' hash, not the checkout's HEAD: HEAD moves with every commit
 * while the engine's cache hands back the same image. An image the cache gives back keeps the
 * attestation made when it was built, and the release names the source that attestation names.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { bundleToJSON } from '@sigstore/bundle';
import { DSSEBundleBuilder } from '@sigstore/sign';
import {
  bundleFileName,
  IN_TOTO_PAYLOAD_TYPE,
  IN_TOTO_STATEMENT_V1,
  type InTotoStatement,
  type ResourceDescriptor,
  SLSA_PROVENANCE_V1,
} from '../core/provenance.ts';

export const LAB_BUILDER = 'driftless-lab';
/** The name the lab gives this repository in its provenance (a checkout has no canonical remote; the schemas' $id use the same domain). */
export const LAB_REPOSITORY = 'git+https://driftless.dev/driftless';
export const LAB_BUILD_TYPE = 'https://driftless.dev/lab-build/v1';

/** One image the lab built, and from what. */
export interface LabBuild {
  /** The tag it was built as, e.g. driftless-lab/web:cattle. */
  ref: string;
  /** The image id: sha256:<hex>. */
  digest: string;
  /** Its build context, relative to the repository: lab/images/<dir>. */
  context: string;
  target?: string;
  args: Record<string, string>;
  /** buildInputsId of the context, target and args. */
  source: string;
  /** HEAD, when the checkout was clean. */
  commit?: string;
  startedOn: string;
  finishedOn: string;
}

/**
 * sha256:<hex> over every file of the build context (path, executable bit, content), the target
 * and the build arguments: the same inputs give the same id on any machine and at any commit.
 */
export function buildInputsId(contextDir: string, target: string | undefined, args: Record<string, string>): string {
  const h = createHash('sha256');
  const walk = (rel: string): string[] =>
    fs
      .readdirSync(path.join(contextDir, rel), { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? walk(path.join(rel, e.name)) : [path.join(rel, e.name)]))
      .sort();
  for (const f of walk('')) {
    const abs = path.join(contextDir, f);
    const exec = (fs.statSync(abs).mode & 0o111) !== 0 ? 'x' : '-';
    h.update(`file ${f.split(path.sep).join('/')} ${exec} ${createHash('sha256').update(fs.readFileSync(abs)).digest('hex')}\n`);
  }
  h.update(`target ${target ?? ''}\n`);
  for (const k of Object.keys(args).sort()) h.update(`arg ${k}=${args[k]}\n`);
  return `sha256:${h.digest('hex')}`;
}

/** HEAD of the checkout when nothing in it is changed or untracked; else (or without git) undefined. */
export function cleanCommit(repo: string): string | undefined {
  try {
    const git = (...a: string[]) =>
      execFileSync('git', ['-C', repo, ...a], { stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim();
    return git('status', '--porcelain') === '' ? git('rev-parse', 'HEAD') : undefined;
  } catch {
    return undefined;
  }
}

/** The in-toto statement of one lab build (SLSA provenance v1). */
export function labStatement(b: LabBuild): InTotoStatement {
  const hex = b.source.replace(/^sha256:/, '');
  const sources: ResourceDescriptor[] = [
    { uri: LAB_REPOSITORY, name: b.context, digest: { sha256: hex } },
    ...(b.commit ? [{ uri: `${LAB_REPOSITORY}@${b.commit}`, digest: { gitCommit: b.commit } }] : []),
  ];
  return {
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name: b.ref, digest: { sha256: b.digest.replace(/^sha256:/, '') } }],
    predicateType: SLSA_PROVENANCE_V1,
    predicate: {
      buildDefinition: {
        buildType: LAB_BUILD_TYPE,
        externalParameters: { context: b.context, ...(b.target ? { target: b.target } : {}), buildArgs: b.args },
        resolvedDependencies: sources,
      },
      runDetails: { builder: { id: LAB_BUILDER }, metadata: { startedOn: b.startedOn, finishedOn: b.finishedOn } },
    },
  };
}

/** A Sigstore bundle (JSON) of `statement`, signed with the private key in `privateKeyPem`; no network. */
export async function signStatement(statement: InTotoStatement, privateKeyPem: string): Promise<unknown> {
  const key = createPrivateKey(privateKeyPem);
  const pub = createPublicKey(key);
  // cosign's hint: the base64 sha256 of the public key (SPKI DER)
  const hint = createHash('sha256')
    .update(pub.export({ type: 'spki', format: 'der' }))
    .digest('base64');
  const builder = new DSSEBundleBuilder({
    signer: {
      sign: async (data) => ({
        signature: sign(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', data, key),
        key: { $case: 'publicKey', publicKey: pub.export({ type: 'spki', format: 'pem' }).toString(), hint },
      }),
    },
    witnesses: [], // no transparency log, no timestamp authority: offline, trusted by key
  });
  return bundleToJSON(await builder.create({ data: Buffer.from(JSON.stringify(statement)), type: IN_TOTO_PAYLOAD_TYPE }));
}

/** The source (and commit) an attestation written by attestImage names. */
function sourceOf(bundleFile: string): { source: string; commit?: string } | undefined {
  try {
    const b = JSON.parse(fs.readFileSync(bundleFile, 'utf8')) as { dsseEnvelope?: { payload?: string } };
    const st = JSON.parse(Buffer.from(b.dsseEnvelope?.payload ?? '', 'base64').toString('utf8')) as InTotoStatement;
    const deps = (st.predicate as { buildDefinition?: { resolvedDependencies?: ResourceDescriptor[] } }).buildDefinition?.resolvedDependencies ?? [];
    const inputs = deps.find((d) => d.uri === LAB_REPOSITORY)?.digest?.sha256;
    const commit = deps.map((d) => d.digest?.gitCommit).find(Boolean);
    return inputs ? { source: `sha256:${inputs}`, ...(commit ? { commit } : {}) } : undefined;
  } catch {
    return undefined;
  }
}

export interface Attested {
  file: string;
  source: string;
  commit?: string;
  /** The attestation was already there (the image came from the cache): kept as it was made. */
  reused: boolean;
}

/** Writes the attestation of `b` into `dir` (named by its digest), unless one of that digest is already there. */
export async function attestImage(dir: string, keyFile: string, b: LabBuild): Promise<Attested> {
  const file = path.join(dir, bundleFileName(b.digest));
  const kept = fs.existsSync(file) ? sourceOf(file) : undefined;
  if (kept) return { file, ...kept, reused: true };
  fs.mkdirSync(dir, { recursive: true });
  const bundle = await signStatement(labStatement(b), fs.readFileSync(keyFile, 'utf8'));
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(bundle, null, 2) + '\n');
  fs.renameSync(`${file}.tmp`, file); // never half a bundle under the digest's name
  return { file, source: b.source, ...(b.commit ? { commit: b.commit } : {}), reused: false };
}

/**
 * Signs the builds the pipeline attests (`attested`); returns, for every build, the source its
 * release entry names: the attestation's (kept from when the image was built, if it came from the
 * cache), or, for an image the pipeline does not attest, what it was built from.
 */
export async function attestBuilds<K extends string>(
  dir: string,
  keyFile: string,
  builds: Record<K, LabBuild>,
  attested: readonly string[],
  log: (line: string) => void,
): Promise<Record<K, string>> {
  const out = {} as Record<K, string>;
  for (const k of Object.keys(builds) as K[]) {
    const b = builds[k];
    if (!attested.includes(k)) {
      out[k] = b.source;
      log(`  ${b.ref}: not attested (built by hand, outside the pipeline: the negative control of DL-IMG-020)`);
      continue;
    }
    const a = await attestImage(dir, keyFile, b);
    out[k] = a.source;
    log(
      `  ${b.ref}: attested (${a.reused ? 'kept from when it was built' : 'signed now'}), source ${a.source}${a.commit ? ` at ${a.commit.slice(0, 12)}` : ''}`,
    );
  }
  return out;
}
