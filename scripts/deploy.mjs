// `npm run deploy -- --stage prod [--region eu-west-1] [--param name=value ...] [--dry-run]`: the whole stack in one
// command. `npm run teardown -- --stage prod [--region ...] [--dry-run]`: all of it removed again.
//
// Deploy: checks the API keys' SSM SecureString exists; on the first deploy creates the stack with no session host
// (its ECR repository must exist before an image can be pushed); builds the session-host image for the task's CPU
// architecture and pushes it, tagged with the git commit (skipped when that tag is already there: tags are
// immutable); then deploys the stack with that image. Needs: AWS credentials (any the AWS CLI finds), the AWS CLI v2,
// Docker with buildx. --dry-run prints every command instead of running it (and assumes a first deploy).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';

const projectRoot = path.resolve(import.meta.dirname, '..');
const service = 'whatsapp-service';

const { values } = parseArgs({
  options: {
    stage: { type: 'string' },
    region: { type: 'string' },
    param: { type: 'string', multiple: true, default: [] },
    'dry-run': { type: 'boolean', default: false },
    teardown: { type: 'boolean', default: false },
  },
});
const stage = values.stage;
if (stage === undefined || !/^[a-z][a-z0-9-]{0,15}$/.test(stage) || stage === 'local') {
  fail('--stage is required: a short lower-case name other than "local" (that one is `npm start`), e.g. --stage prod');
}
const region = values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'eu-west-1';
const dryRun = values['dry-run'];
const stackName = `${service}-${stage}`;
const apiKeysParameter = `/${service}/${stage}/api-keys`;
/** The user's --param values, less those this script sets itself at a step. */
const userParams = (...except) =>
  values.param.filter((param) => !except.some((name) => param.startsWith(`${name}=`))).flatMap((param) => ['--param', param]);
const serverless = path.join(projectRoot, 'node_modules', '.bin', 'serverless');
const slsEnv = { SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' };

if (values.teardown) teardown();
else deploy();

function deploy() {
  say(`deploying stage ${stage} to ${region} (stack ${stackName})`);
  if (!dryRun) {
    need('aws', ['--version'], 'the AWS CLI v2: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html');
    need('docker', ['buildx', 'version'], 'Docker with buildx');
    const type = query('aws', ['ssm', 'get-parameter', '--name', apiKeysParameter, '--region', region, '--query', 'Parameter.Type', '--output', 'text']);
    if (type !== 'SecureString') {
      fail(
        `the API keys are not in SSM yet. Create them (comma-separated), then run this again:\n` +
          `  aws ssm put-parameter --region ${region} --name ${apiKeysParameter} --type SecureString --value 'KEY1,KEY2'`,
      );
    }
  }

  const exists = !dryRun && query('aws', ['cloudformation', 'describe-stacks', '--stack-name', stackName, '--region', region, '--query', 'Stacks[0].StackStatus', '--output', 'text']) !== undefined;
  if (!exists) {
    say('first deploy: the stack without session hosts, so that its image repository exists');
    run(serverless, ['deploy', '--stage', stage, '--region', region, ...userParams('sessionHostCount'), '--param', 'sessionHostCount=0'], slsEnv);
  }

  const repository = dryRun ? `<account>.dkr.ecr.${region}.amazonaws.com/${service}-${stage}/session-host` : output('SessionHostRepositoryUri');
  const tag = imageTag();
  const architecture = paramValue('sessionHostArchitecture') ?? 'ARM64';
  const platform = architecture === 'X86_64' ? 'linux/amd64' : 'linux/arm64';
  const pushed =
    !dryRun &&
    query('aws', ['ecr', 'describe-images', '--region', region, '--repository-name', `${service}-${stage}/session-host`, '--image-ids', `imageTag=${tag}`, '--query', 'imageDetails[0].imageTags[0]', '--output', 'text']) === tag;
  if (pushed) say(`image ${repository}:${tag} is already pushed`);
  else {
    run('docker', ['buildx', 'build', '--platform', platform, '--tag', `${repository}:${tag}`, '--load', '.']);
    const registry = repository.split('/')[0];
    if (dryRun) say(`aws ecr get-login-password --region ${region} | docker login --username AWS --password-stdin ${registry}`);
    else {
      const password = query('aws', ['ecr', 'get-login-password', '--region', region]);
      if (password === undefined) fail('could not get an ECR login');
      run('docker', ['login', '--username', 'AWS', '--password-stdin', registry], {}, password);
    }
    run('docker', ['push', `${repository}:${tag}`]);
  }

  run(serverless, ['deploy', '--stage', stage, '--region', region, ...userParams('sessionHostImageTag'), '--param', `sessionHostImageTag=${tag}`], slsEnv);
  if (!dryRun) {
    say('done:');
    for (const key of ['HttpApiUrl', 'ServiceEndpointWebsocket', 'SessionHostClusterName', 'MediaBucketName']) {
      say(`  ${key}: ${output(key) ?? '?'}`);
    }
  }
}

function teardown() {
  say(`removing stage ${stage} from ${region} (stack ${stackName}): Redis data, session data (EFS), media and images go with it`);
  // CloudFormation cannot delete a bucket with objects in it (the ECR repository empties itself: EmptyOnDelete).
  const bucket = dryRun ? '<MediaBucketName>' : output('MediaBucketName');
  if (bucket !== undefined) run('aws', ['s3', 'rm', `s3://${bucket}`, '--recursive', '--region', region]);
  run(serverless, ['remove', '--stage', stage, '--region', region], slsEnv);
  say(`kept: the API keys. Delete them too with: aws ssm delete-parameter --region ${region} --name ${apiKeysParameter}`);
}

function imageTag() {
  const commit = query('git', ['rev-parse', '--short=12', 'HEAD']) ?? 'nogit';
  const dirty = (query('git', ['status', '--porcelain']) ?? '') !== '';
  // An image of uncommitted code gets a tag of its own: tags are immutable in the repository.
  return dirty ? `${commit}-dirty-${Math.floor(Date.now() / 1000)}` : commit;
}

function paramValue(name) {
  const found = values.param.find((param) => param.startsWith(`${name}=`));
  return found?.slice(name.length + 1);
}

function output(key) {
  return query('aws', ['cloudformation', 'describe-stacks', '--stack-name', stackName, '--region', region, '--query', `Stacks[0].Outputs[?OutputKey=='${key}'].OutputValue`, '--output', 'text']);
}

/** Runs a read-only command even in a dry run; its trimmed output, or undefined when it fails. */
function query(command, args) {
  const result = spawnSync(command, args, { cwd: projectRoot, encoding: 'utf8' });
  if (result.status !== 0) return undefined;
  const text = result.stdout.trim();
  return text === '' || text === 'None' ? undefined : text;
}

function run(command, args, env = {}, input) {
  const shown = `${path.relative(projectRoot, command) || command} ${args.join(' ')}`.replace(/^node_modules\/\.bin\//, 'npx ');
  say(`$ ${shown}`);
  if (dryRun) return;
  const result = spawnSync(command, args, {
    cwd: projectRoot,
    stdio: [input === undefined ? 'inherit' : 'pipe', 'inherit', 'inherit'],
    input,
    env: { ...process.env, ...env },
  });
  if (result.status !== 0) fail(`failed: ${shown}`);
}

function need(command, args, what) {
  if (spawnSync(command, args, { stdio: 'ignore' }).status !== 0) fail(`${command} is missing: install ${what}`);
}

function say(line) {
  process.stdout.write(`${line}\n`);
}

function fail(message) {
  process.stderr.write(`deploy: ${message}\n`);
  process.exit(1);
}
