import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { buildOnce, runMts } from '../testing/mts-process.js';

before(() => buildOnce());

/** What the bash script offers for a command line typed so far (the last word is being completed). */
async function complete(script: string, words: string[]): Promise<string[]> {
  const program = `${script}
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _mts; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const { stdout } = await promisify(execFile)('bash', ['-c', program, 'bash', ...words]);
  return stdout.split('\n').filter((line) => line !== '');
}

test('mts completion bash completes commands, each command its own flags, and fixed words', async () => {
  const result = await runMts(['completion', 'bash']);
  assert.equal(result.code, 0, result.stderr);
  const script = result.stdout.toString();
  assert.deepEqual(await complete(script, ['mts', 'sub']), ['subscribe', 'subjects']);
  assert.deepEqual(await complete(script, ['mts', '--ingress', 'http://127.0.0.1:1', 'pub']), ['publish']);
  assert.deepEqual(await complete(script, ['mts', 'subscribe', '--du']), ['--durable']);
  assert.deepEqual(await complete(script, ['mts', 'fetch', '--no']), ['--no-ack']);
  assert.deepEqual(await complete(script, ['mts', 'consumer', '']), ['add', 'info', 'ls', 'rm', 'reset']);
  assert.deepEqual(await complete(script, ['mts', 'completion', 'z']), ['zsh']);
  const checked = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = execFile('shellcheck', ['-s', 'bash', '-'], (error, stdout) => resolve({ code: error ? 1 : 0, out: stdout }));
    child.stdin!.end(script);
  });
  assert.equal(checked.code, 0, checked.out);
});

test('mts completion zsh loads the same function through bashcompinit; anything else is a usage error', async () => {
  const zsh = (await runMts(['completion', 'zsh'])).stdout.toString();
  assert.match(zsh, /^# mts completion for zsh.*\nautoload -U \+X bashcompinit && bashcompinit\n_mts\(\) \{\n/);
  assert.match(zsh, /\n_mts_zsh\(\) \{\n {2}setopt localoptions ksharrays\n {2}_mts "\$@"\n\}\ncomplete -o default -F _mts_zsh mts\n$/);
  const wrong = await runMts(['completion', 'fish']);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /give the shell: mts completion bash or mts completion zsh/);
});
