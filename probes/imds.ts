/**
 * The EC2 instance's own id, read on the instance itself through IMDSv2 (a session token, then the
 * instance-id with it). The command runs at the far end of an SSH session; the token never leaves
 * the instance (it is not printed). Markers on stdout say what happened: no curl and no wget, no
 * token (IMDS unreachable, or IMDSv2 refused), no id.
 */

const IMDS = 'http://169.254.169.254/latest';

export const IMDS_INSTANCE_ID_COMMAND = [
  `u=${IMDS}; h='X-aws-ec2-metadata-token-ttl-seconds: 60'`,
  'if command -v curl >/dev/null 2>&1; then',
  '  t=$(curl -sf -m 2 -X PUT -H "$h" "$u/api/token") || { echo DL:IMDS:NO-TOKEN curl; exit 0; }',
  '  i=$(curl -sf -m 2 -H "X-aws-ec2-metadata-token: $t" "$u/meta-data/instance-id") || { echo DL:IMDS:NO-ID curl; exit 0; }',
  'elif command -v wget >/dev/null 2>&1; then',
  '  t=$(wget -q -T 2 -t 1 -O - --method=PUT --header="$h" "$u/api/token") || { echo DL:IMDS:NO-TOKEN wget; exit 0; }',
  '  i=$(wget -q -T 2 -t 1 -O - --header="X-aws-ec2-metadata-token: $t" "$u/meta-data/instance-id") || { echo DL:IMDS:NO-ID wget; exit 0; }',
  'else echo DL:IMDS:NO-TOOL; exit 0; fi',
  'printf "DL:IMDS:ID %s\\n" "$i"',
].join('\n');

/** The instance id the command printed, or why there is none. */
export function parseImdsInstanceId(r: { exitCode: number | null; stdout: string; stderr: string }): { value: string } | { error: string } {
  const out = r.stdout;
  const id = /^DL:IMDS:ID (i-[0-9a-f]{8,32})$/m.exec(out)?.[1];
  if (id) return { value: id };
  const tool = /^DL:IMDS:NO-(?:TOKEN|ID) (\w+)$/m.exec(out)?.[1];
  if (/^DL:IMDS:NO-TOOL$/m.test(out)) return { error: 'neither curl nor wget exists there to ask the instance metadata service' };
  if (/^DL:IMDS:NO-TOKEN /m.test(out)) return { error: `no IMDSv2 token from 169.254.169.254 (${tool}): the instance metadata service is not reachable there` };
  if (/^DL:IMDS:NO-ID /m.test(out)) return { error: `the instance metadata service gave a token but no instance-id (${tool})` };
  if (/^DL:IMDS:ID /m.test(out)) return { error: `the instance metadata service answered something that is not an instance id: ${out.trim().slice(0, 80)}` };
  return { error: `the metadata command did not finish (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 200) || 'no output'}` };
}
