/**
 * Controls of the plan suite: the pre-release gate on a Terraform/OpenTofu plan (or a
 * CloudFormation change set), judged before anything is deployed (the registry: core/controls.ts).
 * Each is checked per resource change of a plan file: the check's fleet is the plan file, its
 * resource the address of the change.
 */
import type { Control } from '../controls.ts';

export const PLAN_CONTROLS = [
  {
    id: 'DL-PLAN-001',
    name: 'compute replaced, not updated in place',
    title:
      'a compute resource (plan.compute, AWS instances, launch templates and configurations, Auto Scaling groups, ECS task definitions by default) that the plan changes is replaced, never updated in place beyond plan.allowedInPlaceAttributes (tags, tags_all, description by default)',
    suite: 'plan',
    family: 'Replace-only deploys',
    scope: 'resource',
    violations: ['updated-in-place'],
    proves: 'the release would patch running compute in place: what runs after it is not what was built',
    when: 'the plan updates or replaces a compute resource',
  },
  {
    id: 'DL-PLAN-002',
    name: 'new launch template reaches the instances',
    title:
      'an Auto Scaling group (or instance) whose launch template changes in the plan (its own version, or a template it names by $Latest/$Default that the plan updates) is replaced, or carries an instance_refresh that the change starts and that replaces every instance',
    suite: 'plan',
    family: 'Replace-only deploys',
    scope: 'resource',
    violations: ['template-not-rolled-out'],
    proves: 'the new image reaches only instances launched later: the running ones keep the old one, and the fleet runs two releases',
    when: 'the plan changes the launch template of a group or instance that already runs',
  },
  {
    id: 'DL-PLAN-003',
    name: 'nothing stateful destroyed by a replacement',
    title:
      'no stateful resource (databases, volumes, buckets, queues: plan.stateful adds types) is replaced, that is destroyed and created again, unless a waiver accepts it',
    suite: 'plan',
    family: 'Statelessness',
    scope: 'resource',
    violations: ['stateful-replaced'],
    proves: 'the release would destroy data along with the resource that holds it',
    when: 'the plan replaces a stateful resource',
  },
] as const satisfies readonly Control[];

/**
 * Compute by default (DL-PLAN-001, DL-PLAN-002): what runs the release; plan.compute adds types.
 * Kubernetes workloads are not: a Deployment's update is itself a rolling replacement.
 */
export const PLAN_DEFAULT_COMPUTE = [
  'aws_instance',
  'aws_launch_template',
  'aws_launch_configuration',
  'aws_autoscaling_group',
  'aws_ecs_task_definition',
  'AWS::EC2::Instance',
  'AWS::EC2::LaunchTemplate',
  'AWS::AutoScaling::AutoScalingGroup',
] as const;

/** Stateful by default (DL-PLAN-003): a replacement destroys what they hold; plan.stateful adds types. */
export const PLAN_DEFAULT_STATEFUL = [
  'aws_db_instance',
  'aws_rds_cluster',
  'aws_docdb_cluster',
  'aws_neptune_cluster',
  'aws_redshift_cluster',
  'aws_dynamodb_table',
  'aws_elasticache_cluster',
  'aws_elasticache_replication_group',
  'aws_opensearch_domain',
  'aws_elasticsearch_domain',
  'aws_s3_bucket',
  'aws_ebs_volume',
  'aws_efs_file_system',
  'aws_fsx_lustre_file_system',
  'aws_kinesis_stream',
  'aws_sqs_queue',
  'aws_msk_cluster',
  'AWS::RDS::DBInstance',
  'AWS::RDS::DBCluster',
  'AWS::DynamoDB::Table',
  'AWS::S3::Bucket',
  'AWS::EC2::Volume',
  'AWS::EFS::FileSystem',
  'AWS::ElastiCache::ReplicationGroup',
  'AWS::SQS::Queue',
] as const;
