/**
 * What the engine's settings of a container mean, decided by what they are rather than by how
 * they are spelled (CIS Docker 5.32 and 4.1). Pure: the engine's inspect in, findings out.
 */

export interface MountDetail {
  destination: string;
  source: string;
  type: string;
  rw: boolean;
}

/**
 * Where container engines put the sockets that control them on the host: Docker, the containerd
 * Docker starts itself, containerd, Podman, CRI-O, BuildKit, cri-dockerd. /var/run is /run on every
 * current distribution, so both spellings are covered by normalizing to /run.
 */
export const ENGINE_SOCKETS = [
  '/run/docker.sock',
  '/run/docker/containerd/containerd.sock',
  '/run/containerd/containerd.sock',
  '/run/podman/podman.sock',
  '/run/crio/crio.sock',
  '/run/buildkit/buildkitd.sock',
  '/run/cri-dockerd.sock',
] as const;

/** Directories a rootless engine's socket lives in ($XDG_RUNTIME_DIR): /run/user/<uid>/docker.sock. */
const ROOTLESS_SOCKET_DIR = /^\/run\/user(\/\d+)?$/;

/** Socket file names of the engines, wherever they are (a socket moved elsewhere is still one). */
const SOCKET_NAME = /(^|\/)(docker|containerd|podman|crio|buildkitd|cri-dockerd|dockershim)\.sock$/;

/** Absolute, no trailing slash, no `.` segments, `/var/run` spelled `/run`; undefined if not an absolute host path. */
function hostPath(p: string): string | undefined {
  if (!p.startsWith('/')) return undefined; // tmpfs, named volumes without a path
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  const n = `/${parts.join('/')}`;
  return n === '/var/run' || n.startsWith('/var/run/') ? n.slice('/var'.length) : n;
}

const contains = (dir: string, p: string) => dir === '/' || p === dir || p.startsWith(`${dir}/`);

/**
 * Why a mount gives the container its engine's socket, or undefined: its source is an engine's
 * socket, a socket file (`*.sock`), or a directory that contains one (/, /var, /run, /var/run,
 * /run/containerd, …); its destination does not matter (a bind of /var/run at /run is the socket too).
 * A destination named like an engine socket is one as well, whatever its source is called.
 */
export function engineSocketReason(m: MountDetail): string | undefined {
  const src = hostPath(m.source);
  if (src !== undefined) {
    const inside = ENGINE_SOCKETS.filter((s) => contains(src, s));
    if ((inside as readonly string[]).includes(src)) return `its source ${m.source} is the engine's socket`;
    if (inside.length) return `its source ${m.source} contains the engine's socket ${inside[0]}`;
    // /var/run is a link to /run on current hosts, a directory on older ones: /var may hold the socket.
    if (src === '/var') return `its source ${m.source} contains /var/run, the engine's socket directory`;
    if (src.endsWith('.sock')) return `its source ${m.source} is a socket file`;
    if (ROOTLESS_SOCKET_DIR.test(src)) return `its source ${m.source} contains a rootless engine's socket (/run/user/<uid>/docker.sock)`;
  }
  if (SOCKET_NAME.test(m.destination)) return `it is mounted at ${m.destination}, an engine socket's name`;
  return undefined;
}

/** The mounts that hand the container its engine's socket, each with the reason. */
export function engineSocketMounts(mounts: readonly MountDetail[]): Array<MountDetail & { why: string }> {
  return mounts.flatMap((m) => {
    const why = engineSocketReason(m);
    return why ? [{ ...m, why }] : [];
  });
}

/**
 * Who the container's main process runs as, from the engine's `Config.User` ("user[:group]").
 * The user part is read as the runtime reads it: a number (Go's Atoi: `0`, `00`, `+0`, `-0` are all
 * uid 0), else a name. Only the name `root` is taken as root; any other name is taken as non-root
 * (its uid is in the image's /etc/passwd, which the engine does not show). Empty: the image's
 * default, root unless the image says otherwise (and then the engine shows that user).
 */
export function userOf(user: string | undefined): { root: boolean; why: string } {
  const u = user ?? '';
  if (u === '') return { root: true, why: 'no user is set, so it runs as root' };
  const name = u.split(':')[0]!;
  if (/^[+-]?\d+$/.test(name)) {
    const uid = BigInt(name);
    if (uid === 0n) return { root: true, why: `user "${u}" is uid 0 (root)` };
    if (uid < 0n || uid > 0xfffffffen) return { root: true, why: `user "${u}" is no valid uid, so it is not proven to be non-root` };
    return { root: false, why: `user "${u}" is uid ${uid}` };
  }
  if (name === 'root' || name === '') return { root: true, why: `user "${u}" is root` };
  return { root: false, why: `user "${u}" is the user ${name}` };
}
