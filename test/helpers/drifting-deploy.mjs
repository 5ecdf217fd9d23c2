// A deploy pipeline gone wrong, as the new-release suite's driven mode runs it
// (test/integration/what-comes-up.test.ts): every container carrying the label is replaced, one at
// a time, by a new container of the SAME image (every digest stays right) launched from an older
// template: the read-only root filesystem is dropped. Each new one is started and its sshd awaited.
//   drifting-deploy.mjs <label key=value>
import net from 'node:net';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';

const [selector] = process.argv.slice(2);
if (!selector) throw new Error('usage: drifting-deploy.mjs <label key=value>');
const docker = new Docker(); // DOCKER_HOST, else the local socket

/** Resolves once something answers "SSH-" on the port, or after 30 s. */
async function sshAnswers(port) {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    const ok = await new Promise((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.setTimeout(1000, () => (s.destroy(), resolve(false)));
      s.once('data', (b) => (s.destroy(), resolve(b.toString('latin1').startsWith('SSH-'))));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(200);
  }
}

const old = (await docker.listContainers({ all: true, filters: { label: [selector] } })).sort((a, b) => a.Names[0].localeCompare(b.Names[0]));
for (const c of old) {
  const info = await docker.getContainer(c.Id).inspect();
  const name = info.Name.replace(/^\//, '');
  const hc = info.HostConfig;
  await docker.getContainer(c.Id).remove({ force: true });
  const fresh = await docker.createContainer({
    name,
    Image: info.Image,
    Env: info.Config.Env,
    Labels: info.Config.Labels,
    Entrypoint: info.Config.Entrypoint,
    Cmd: info.Config.Cmd,
    HostConfig: {
      NetworkMode: hc.NetworkMode,
      ReadonlyRootfs: false, // the older template's: the host can be changed in place
      Tmpfs: hc.Tmpfs,
      Binds: hc.Binds,
      SecurityOpt: hc.SecurityOpt,
      CapAdd: hc.CapAdd,
    },
  });
  await fresh.start();
  await sshAnswers(Number(info.Config.Labels['driftless.port.ssh']));
  process.stdout.write(`replaced ${name} by ${fresh.id.slice(0, 12)}: the same image ${info.Image}, without the read-only root\n`);
}
process.stdout.write(`deployed: ${old.length} instances replaced\n`);
