// infra/kubernetes: every overlay renders, validates against the Kubernetes schemas, and agrees
// with the code: probe paths and ports are routes the app serves, every env var is read, and the
// ConfigMap's config loads with the env and files the Deployment provides.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig, sha256Hex } from '../src/config/load.js';
import { envNamesReadBySource, interpolatedNames, kustomize, localApp, overlays, routes, run, tool } from './helpers/infra.js';
import { tempDir } from './helpers/gateway.js';

// The oldest Kubernetes the manifests claim (preStop's sleep action is on by default from 1.30)
// and the newest the pinned kubernetes-validate knows.
const KUBERNETES_VERSIONS = ['1.30.0', '1.37.0'];
// Custom resources: kubernetes-validate has no schema for them; the prometheus-operator models do.
const CUSTOM_KINDS = ['PrometheusRule', 'ServiceMonitor'];
// Signet's shutdown drain default (lead's design for graceful shutdown): the grace period must cover it.
const DRAIN_SECONDS = 10;
const BACKEND_OF_OVERLAY: Record<string, { type: string; egressPort: number }> = {
  'vault-transit': { type: 'vault-transit', egressPort: 8200 },
  'aws-kms': { type: 'aws-kms', egressPort: 443 },
};
// Stand-ins for what operators put in the Secrets; a Secret key without one here fails the test.
const SECRET_VALUES: Record<string, string> = {
  'signet-secrets/redis-url': 'redis://:password@redis:6379',
  'signet-secrets/admin-api-key-sha256': sha256Hex('admin-key'),
  'signet-secrets/orders-api-key-sha256': sha256Hex('orders-key'),
  'signet-vault-approle/role-id': 'test-role-id',
  'signet-vault-approle/secret-id': 'test-secret-id',
};

type Manifest = Record<string, any>;
const rendered = new Map<string, Manifest[]>();
let app: FastifyInstance;

function only(docs: Manifest[], kind: string, name?: string): Manifest {
  const found = docs.filter((doc) => doc.kind === kind && (name === undefined || doc.metadata.name === name));
  expect(found, `${kind} ${name ?? ''}`).toHaveLength(1);
  return found[0]!;
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

function container(docs: Manifest[]): Manifest {
  const containers = only(docs, 'Deployment', 'signet').spec.template.spec.containers as Manifest[];
  expect(containers).toHaveLength(1);
  return containers[0]!;
}

beforeAll(async () => {
  for (const overlay of overlays()) {
    rendered.set(overlay, parseAllDocuments(kustomize(overlay)).map((doc) => doc.toJSON() as Manifest));
  }
  app = await localApp();
});

afterAll(async () => {
  await app?.close();
});

describe('Kubernetes manifests', () => {
  it('has an overlay for each remote backend', () => {
    expect(overlays()).toEqual(Object.keys(BACKEND_OF_OVERLAY).sort());
  });

  describe.each(Object.keys(BACKEND_OF_OVERLAY))('overlay %s', (overlay) => {
    const docs = (): Manifest[] => rendered.get(overlay)!;

    it(`validates against the Kubernetes ${KUBERNETES_VERSIONS.join(' and ')} schemas (kubernetes-validate --strict); custom resources against prometheus-operator's`, () => {
      const file = join(tempDir(), `${overlay}.yaml`);
      writeFileSync(file, kustomize(overlay));
      const result = run(tool('kubernetes-validate'), ['--strict', '--quiet', ...KUBERNETES_VERSIONS.flatMap((v) => ['-k', v]), file]);
      expect(result.output).not.toMatch(/ERROR|FATAL/);
      expect(result.status).toBe(0);
      // Everything except the custom resources had a schema.
      const unvalidated = new Set([...result.output.matchAll(/Couldn't find schema for kind (\S+)/g)].map((m) => m[1]));
      expect([...unvalidated].sort()).toEqual(CUSTOM_KINDS);
      // The custom resources: prometheus-operator's CRD schemas (types, enums, patterns, required
      // fields; unknown fields are not caught, as the API server would prune them).
      for (const doc of docs().filter((d) => CUSTOM_KINDS.includes(d.kind))) {
        const model = doc.kind === 'ServiceMonitor' ? new ServiceMonitor(doc as any) : new PrometheusRule(doc as any);
        expect(() => model.validate(), `${doc.kind} ${doc.metadata.name}`).not.toThrow();
      }
    });

    it('runs non-root on a read-only root filesystem, without privilege escalation or capabilities, under RuntimeDefault seccomp, with bounded memory', () => {
      const pod = only(docs(), 'Deployment', 'signet').spec.template.spec;
      const c = container(docs());
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      expect(c.securityContext.capabilities.add).toBeUndefined();
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(c.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
      expect(c.resources.limits.memory).toEqual(expect.any(String));
    });

    it('probes, ports, Services, ServiceMonitor and Ingress point at routes the app serves', async () => {
      const deployment = only(docs(), 'Deployment', 'signet');
      const c = container(docs());
      const portByName = new Map<string, number>((c.ports as Manifest[]).map((p) => [p.name, p.containerPort]));
      const env = new Map<string, string>((c.env as Manifest[]).filter((e) => 'value' in e).map((e) => [e.name, e.value]));
      expect(portByName.get('http')).toBe(8080);
      expect(env.get('SIGNET_PORT')).toBe('8080');

      const probes = { startupProbe: '/healthz', livenessProbe: '/healthz', readinessProbe: '/readyz' } as const;
      for (const [probe, path] of Object.entries(probes)) {
        expect(c[probe].httpGet, probe).toEqual({ path, port: 'http' });
        expect(app.hasRoute({ method: 'GET', url: path }), `${probe} ${path} is a route`).toBe(true);
        expect((await app.inject({ method: 'GET', url: path })).statusCode, `${probe} ${path} on a healthy gateway`).toBe(200);
      }

      // Graceful shutdown: the preStop sleep lets endpoints drop the pod, then the drain runs.
      const preStop = c.lifecycle.preStop.sleep.seconds as number;
      expect(preStop).toBeGreaterThan(0);
      expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(preStop + DRAIN_SECONDS);

      const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
      const services = docs().filter((d) => d.kind === 'Service');
      expect(services.map((s) => s.metadata.name).sort()).toEqual(['signet-internal', 'signet-public']);
      for (const service of services) {
        expect(selects(service.spec.selector, podLabels), `${service.metadata.name} selects the pods`).toBe(true);
        for (const port of service.spec.ports) expect(portByName.has(port.targetPort), `${service.metadata.name} targetPort ${port.targetPort}`).toBe(true);
      }

      const monitor = only(docs(), 'ServiceMonitor');
      const scraped = services.filter((s) => selects(monitor.spec.selector.matchLabels, s.metadata.labels));
      expect(scraped.map((s) => s.metadata.name)).toEqual(['signet-internal']);
      expect(scraped[0]!.metadata.labels[monitor.spec.jobLabel]).toBe('signet'); // job="signet", as alerts.yml expects
      for (const endpoint of monitor.spec.endpoints) {
        expect(scraped[0]!.spec.ports.map((p: Manifest) => p.name)).toContain(endpoint.port);
        const scrape = await app.inject({ method: 'GET', url: endpoint.path });
        expect(scrape.statusCode).toBe(200);
        expect(scrape.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      }

      // The only way in from outside forwards only public key-discovery routes.
      const ingress = only(docs(), 'Ingress', 'signet-public');
      const table = routes(app);
      for (const rule of ingress.spec.rules) {
        for (const path of rule.http.paths) {
          expect(path.pathType).toBe('Prefix');
          const service = services.find((s) => s.metadata.name === path.backend.service.name);
          expect(service?.spec.ports.map((p: Manifest) => p.name)).toContain(path.backend.service.port.name);
          const exposed = table.filter((route) => route.path === path.path || route.path.startsWith(`${path.path}/`));
          expect(exposed.length, `${path.path} exposes some route`).toBeGreaterThan(0);
          for (const route of exposed) {
            expect(route.path, 'only discovery routes are public').toMatch(/\/\.well-known\/[a-z-]+(\.json)?$/);
            expect(route.methods.every((m) => ['GET', 'HEAD', 'OPTIONS'].includes(m)), `${route.path} ${route.methods}`).toBe(true);
          }
        }
      }
      // Verifiers get the issuer and jwks_uri from SIGNET_PUBLIC_URL: it is the public host.
      expect(env.get('SIGNET_PUBLIC_URL')).toBe(`https://${ingress.spec.rules[0].host}`);
      expect(ingress.spec.tls[0].hosts).toEqual([ingress.spec.rules[0].host]);
    });

    it('sets only env vars the source reads, or that the ConfigMap config refers to as ${NAME}, and sets every one it refers to', () => {
      const configText = configMapText(docs());
      const referenced = interpolatedNames(configText);
      const read = envNamesReadBySource();
      const set = (container(docs()).env as Manifest[]).map((e) => e.name as string);
      for (const name of set) expect(read.has(name) || referenced.has(name), `${name} is read by src/ or by \${${name}} in signet.yaml`).toBe(true);
      for (const name of referenced) expect(set, `signet.yaml needs \${${name}}`).toContain(name);
      expect(new Set(set).size).toBe(set.length);
    });

    it('the ConfigMap config loads with loadConfig, the Deployment env and its mounted Secret files', () => {
      const deployment = only(docs(), 'Deployment', 'signet');
      const pod = deployment.spec.template.spec;
      const c = container(docs());
      const mounts = c.volumeMounts as Manifest[];
      const volumes = new Map<string, Manifest>((pod.volumes as Manifest[]).map((v) => [v.name, v]));
      const env: Record<string, string> = {};
      for (const entry of c.env as Manifest[]) {
        if ('value' in entry) env[entry.name] = entry.value;
        else {
          const ref = entry.valueFrom.secretKeyRef;
          const value = SECRET_VALUES[`${ref.name}/${ref.key}`];
          expect(value, `a test value for secret ${ref.name} key ${ref.key}`).toBeDefined();
          env[entry.name] = value!;
        }
      }
      // Mount each Secret volume in a temp dir and point the config's paths there.
      let configText = configMapText(docs());
      for (const mount of mounts) {
        const secret = volumes.get(mount.name)?.secret;
        if (!secret) continue;
        const dir = tempDir();
        for (const item of secret.items) {
          const value = SECRET_VALUES[`${secret.secretName}/${item.key}`];
          expect(value, `a test value for secret ${secret.secretName} key ${item.key}`).toBeDefined();
          mkdirSync(dirname(join(dir, item.path)), { recursive: true });
          writeFileSync(join(dir, item.path), value!);
        }
        configText = configText.replaceAll(`${mount.mountPath}/`, `${dir}/`);
      }
      const file = join(tempDir(), 'signet.yaml');
      writeFileSync(file, configText);
      const config = loadConfig({ ...env, SIGNET_CONFIG: file });

      expect(config.server.host).toBe('0.0.0.0');
      expect(config.server.port).toBe(8080);
      expect([...config.backends.values()].map((b) => b.type)).toEqual([BACKEND_OF_OVERLAY[overlay]!.type]);
      expect(config.redisUrl, 'several replicas need Redis').toBe(SECRET_VALUES['signet-secrets/redis-url']);
      expect(config.admin.keys.map((key) => key.apiKeySha256)).toEqual([SECRET_VALUES['signet-secrets/admin-api-key-sha256']]);
      if (overlay === 'vault-transit') {
        const vault = config.backends.get('vault');
        expect(vault).toMatchObject({ approle: { roleId: 'test-role-id', secretId: 'test-secret-id' } });
      }
      // state_dir is on a writable volume, not on the read-only root filesystem.
      const stateMount = mounts.find((m) => posix.relative(m.mountPath, config.stateDir).split('/')[0] !== '..');
      expect(stateMount, `a volume holds state_dir ${config.stateDir}`).toBeDefined();
      expect(stateMount!.readOnly).toBeFalsy();
      expect(volumes.get(stateMount!.name)!.emptyDir ?? volumes.get(stateMount!.name)!.persistentVolumeClaim).toBeDefined();
    });

    it('NetworkPolicy: the pod port only from the ingress controller, labelled namespaces or pods and monitoring; egress to DNS, Redis and the backend only', () => {
      const podLabels = only(docs(), 'Deployment', 'signet').spec.template.metadata.labels;
      const policies = docs().filter((d) => d.kind === 'NetworkPolicy' && selects(d.spec.podSelector.matchLabels, podLabels));
      const ingressRules = policies.filter((p) => p.spec.policyTypes.includes('Ingress')).flatMap((p) => p.spec.ingress ?? []);
      expect(ingressRules.length).toBeGreaterThan(0);
      for (const rule of ingressRules) {
        expect(rule.from?.length, 'an ingress rule without "from" admits everyone').toBeGreaterThan(0);
        expect(rule.ports).toEqual([{ port: 'http', protocol: 'TCP' }]);
        for (const peer of rule.from) {
          expect(peer.ipBlock, 'no address ranges: select namespaces or pods').toBeUndefined();
          const labels = { ...peer.namespaceSelector?.matchLabels, ...peer.podSelector?.matchLabels };
          expect(Object.keys(labels).length, `peer ${JSON.stringify(peer)} is narrowed by a label`).toBeGreaterThan(0);
        }
      }
      const egress = policies.filter((p) => p.spec.policyTypes.includes('Egress')).flatMap((p) => p.spec.egress ?? []);
      const ports = egress.flatMap((rule: Manifest) => (rule.ports as Manifest[]).map((p) => `${p.port}/${p.protocol}`)).sort();
      expect(ports).toEqual([`${BACKEND_OF_OVERLAY[overlay]!.egressPort}/TCP`, '53/TCP', '53/UDP', '6379/TCP'].sort());
    });

    it('keeps two replicas through a voluntary disruption', () => {
      const hpa = only(docs(), 'HorizontalPodAutoscaler', 'signet');
      const pdb = only(docs(), 'PodDisruptionBudget', 'signet');
      const deployment = only(docs(), 'Deployment', 'signet');
      expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'signet' });
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
      expect(deployment.spec.replicas, 'the HPA owns the replica count').toBeUndefined();
      expect(pdb.spec.maxUnavailable).toBe(1);
      expect(selects(pdb.spec.selector.matchLabels, deployment.spec.template.metadata.labels)).toBe(true);
      expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    });
  });
});

/** signet.yaml from the ConfigMap mounted where SIGNET_CONFIG points. */
function configMapText(docs: Manifest[]): string {
  const deployment = docs.find((d) => d.kind === 'Deployment')!;
  const c = deployment.spec.template.spec.containers[0];
  const configPath = (c.env as Manifest[]).find((e) => e.name === 'SIGNET_CONFIG')!.value as string;
  const mount = (c.volumeMounts as Manifest[]).find((m) => posix.dirname(configPath) === m.mountPath)!;
  const volume = (deployment.spec.template.spec.volumes as Manifest[]).find((v) => v.name === mount.name)!;
  const configMap = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === volume.configMap.name)!;
  const text = configMap.data[posix.basename(configPath)];
  expect(text, `ConfigMap ${volume.configMap.name} has ${posix.basename(configPath)}`).toEqual(expect.any(String));
  return text as string;
}
