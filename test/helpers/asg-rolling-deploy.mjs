// A user's deploy pipeline for an EC2 Auto Scaling group, as the deploy suite's driven mode runs
// it (test/integration/deploy.test.ts, against moto, which has no instance refresh): a new launch
// template version with the new AMI, then every instance terminated in turn without lowering the
// desired capacity, so the group replaces it from the new version; the release file last.
//   asg-rolling-deploy.mjs <endpoint> <group> <template> <ami> <release file> [--keep-instances]
import fs from 'node:fs';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, TerminateInstanceInAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateVersionCommand, EC2Client } from '@aws-sdk/client-ec2';

const [endpoint, group, template, ami, releaseFile, flag] = process.argv.slice(2);
// When the release was deployed: every instance launched from here on is of it (EC2 launch times
// are whole seconds: a second early, so none launched by this deploy is "before" it).
const deployedAt = new Date(Math.floor(Date.now() / 1000) * 1000 - 1000).toISOString();
const cfg = { region: 'us-east-1', endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
const ec2 = new EC2Client(cfg);
const asg = new AutoScalingClient(cfg);
await ec2.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateName: template, SourceVersion: '$Latest', LaunchTemplateData: { ImageId: ami } }));
process.stdout.write(`launch template ${template}: new version with ${ami}\n`);
if (flag !== '--keep-instances') {
  const g = (await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }))).AutoScalingGroups[0];
  for (const i of g.Instances) {
    await asg.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: i.InstanceId, ShouldDecrementDesiredCapacity: false }));
    process.stdout.write(`replaced ${i.InstanceId}\n`);
    await sleep(300);
  }
}
fs.writeFileSync(releaseFile, JSON.stringify({ release: 'v2', services: { web: { ami, deployedAt } } }));
process.stdout.write('release file updated\n');
