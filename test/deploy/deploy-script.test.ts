/**
 * The deploy and teardown commands, as a dry run (no AWS account here): the steps they would run, in order, with
 * the values they would pass.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../scripts/support/processes.js';

const dryRun = (...args: string[]) => {
  const result = spawnSync(process.execPath, ['scripts/deploy.mjs', ...args, '--dry-run'], { cwd: projectRoot, encoding: 'utf8' });
  return { status: result.status, steps: result.stdout.split('\n').filter((line) => line.startsWith('$ ')), output: result.stdout + result.stderr };
};

describe('deploy script', () => {
  it('deploys without hosts first, pushes the image for the task architecture, then deploys with that image', () => {
    const { status, steps, output } = dryRun('--stage', 'prod', '--region', 'eu-central-1', '--param', 'sessionHostCount=3');
    expect(status, output).toBe(0);
    expect(steps).toHaveLength(4);
    expect(steps[0]).toBe('$ npx serverless deploy --stage prod --region eu-central-1 --param sessionHostCount=0');
    expect(steps[1]).toMatch(/^\$ docker buildx build --platform linux\/arm64 --tag <account>\.dkr\.ecr\.eu-central-1\.amazonaws\.com\/whatsapp-service-prod\/session-host:(\S+) --load \.$/);
    const tag = /:(\S+) --load/.exec(steps[1]!)![1]!;
    expect(steps[2]).toBe(`$ docker push <account>.dkr.ecr.eu-central-1.amazonaws.com/whatsapp-service-prod/session-host:${tag}`);
    expect(steps[3]).toBe(`$ npx serverless deploy --stage prod --region eu-central-1 --param sessionHostCount=3 --param sessionHostImageTag=${tag}`);
    expect(output).toContain('docker login --username AWS --password-stdin');
  });

  it('builds for x86 when the tasks run on x86', () => {
    const { steps } = dryRun('--stage', 'dev', '--param', 'sessionHostArchitecture=X86_64');
    expect(steps.find((step) => step.includes('buildx'))).toContain('--platform linux/amd64');
  });

  it('tears down: empties the media bucket, removes the stack, names the parameter it keeps', () => {
    const { status, steps, output } = dryRun('--stage', 'prod', '--region', 'eu-central-1', '--teardown');
    expect(status, output).toBe(0);
    expect(steps).toEqual([
      '$ aws s3 rm s3://<MediaBucketName> --recursive --region eu-central-1',
      '$ npx serverless remove --stage prod --region eu-central-1',
    ]);
    expect(output).toContain('aws ssm delete-parameter --region eu-central-1 --name /whatsapp-service/prod/api-keys');
  });

  it('refuses the local stage and a missing stage', () => {
    expect(dryRun('--stage', 'local').status).toBe(1);
    expect(dryRun().status).toBe(1);
  });
});
