// Certificates made by the test with the openssl CLI: CAs, a server certificate, and client
// certificates with chosen SANs and validity (`openssl ca` can back-date, so expired ones too).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './gateway.js';

export interface Pem {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

function openssl(args: string[], cwd: string): void {
  // openssl ships with Debian and every CI image we target; without it this fails loudly.
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

function read(certFile: string, keyFile: string): Pem {
  return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
}

export class TestCa {
  private constructor(
    private readonly dir: string,
    readonly pem: Pem,
  ) {}

  static create(name: string): TestCa {
    const dir = tempDir(`signet-ca-${name}-`);
    mkdirSync(join(dir, 'issued'));
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'serial'), '1000\n');
    writeFileSync(
      join(dir, 'ca.cnf'),
      ['[ca]', 'default_ca = test', '[test]', `dir = ${dir}`, 'database = $dir/index.txt', 'new_certs_dir = $dir/issued', 'serial = $dir/serial', 'default_md = sha256', 'policy = any', 'unique_subject = no', '[any]', 'commonName = supplied', ''].join('\n'),
    );
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name} test CA`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', 'ca.key', '-out', 'ca.pem'], dir);
    return new TestCa(dir, read(join(dir, 'ca.pem'), join(dir, 'ca.key')));
  }

  /** A certificate this CA signs; `san` like "URI:spiffe://example.org/ns/orders/sa/api" or "DNS:x". */
  issue(name: string, san: string, { expired = false, server = false } = {}): Pem {
    const { dir } = this;
    const ext = join(dir, `${name}.ext`);
    writeFileSync(ext, `[v3]\nsubjectAltName = ${san}\nextendedKeyUsage = ${server ? 'serverAuth' : 'clientAuth'}\nbasicConstraints = CA:FALSE\n`);
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
    const validity = expired ? ['-startdate', '20240101000000Z', '-enddate', '20240102000000Z'] : ['-days', '1'];
    openssl(['ca', '-batch', '-notext', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-in', `${name}.csr`, '-out', `${name}.pem`, '-extfile', ext, '-extensions', 'v3', ...validity], dir);
    return read(join(dir, `${name}.pem`), join(dir, `${name}.key`));
  }
}
