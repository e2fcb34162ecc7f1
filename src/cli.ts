// The `signet` process (bin/signet.js, npm start, the image's CMD): the CLI on this process's
// environment and streams. Tests run the commands in-process through run() in cli/main.ts.
import { run } from './cli/main.js';

const code = await run(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr });
// On success `serve` keeps the process alive with its server; other commands end when their work does.
if (code !== 0) process.exit(code);
