/**
 * Reads manifests/ the way `kubectl apply -k` sees it, without a cluster: the resources the
 * kustomization lists plus the ConfigMaps its generator makes. Tests only; the YAML files are
 * written so that what they say is what gets applied (no transformers besides the generator).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import { applyJsonPatch, type PatchOperation } from './json-patch.js';

export const manifestsDir = dirname(fileURLToPath(import.meta.url));
export const repoRoot = dirname(manifestsDir);
export const namespace = 'minitoolstream';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

export interface ConfigMapGenerator {
  name: string;
  namespace?: string;
  /** `key=path` or `path`, relative to manifests/. */
  files: string[];
  options?: { labels?: Record<string, string>; disableNameSuffixHash?: boolean };
}

/** A JSON patch file and the objects it applies to (`name` is a regular expression). */
export interface Patch {
  path: string;
  target: { group?: string; version?: string; kind: string; name: string };
}

export interface Kustomization {
  resources: string[];
  configMapGenerator: ConfigMapGenerator[];
  patches: Patch[];
}

/** One object and the file it came from. */
export interface Loaded {
  file: string;
  object: KubeObject;
}

/** The kustomization (or component) in `dir`, a folder relative to manifests/. */
export function loadKustomization(dir = '.'): Kustomization {
  const raw = parse(readFileSync(join(manifestsDir, dir, 'kustomization.yaml'), 'utf8')) as Partial<Kustomization>;
  return { resources: raw.resources ?? [], configMapGenerator: raw.configMapGenerator ?? [], patches: raw.patches ?? [] };
}

/** The files the kustomization in `dir` uses, itself included, relative to manifests/. */
export function kustomizationFiles(dir = '.'): string[] {
  const { resources, configMapGenerator, patches } = loadKustomization(dir);
  const generated = configMapGenerator.flatMap((generator) => generator.files.map((entry) => generatorFile(entry).path));
  return ['kustomization.yaml', ...resources, ...generated, ...patches.map((patch) => patch.path)].map((file) =>
    normalize(join(dir, file)),
  );
}

/**
 * `all` as an overlay with the component in `dir` sees it: its JSON patches applied to copies of
 * the objects their targets select. Strategic merge patches are not supported and throw.
 */
export function withComponent(all: Loaded[], dir: string): Loaded[] {
  const copies = all.map(({ file, object }) => ({ file, object: structuredClone(object) }));
  for (const { path, target } of loadKustomization(dir).patches) {
    if (target === undefined) throw new Error(`${dir}/${path}: only JSON patches with a target are supported`);
    const operations = parse(readFileSync(join(manifestsDir, dir, path), 'utf8')) as PatchOperation[];
    if (!Array.isArray(operations)) throw new Error(`${dir}/${path}: not a JSON patch (a list of operations)`);
    const apiVersion = [target.group, target.version].filter(Boolean).join('/');
    const name = new RegExp(`^(?:${target.name})$`);
    const selected = copies.filter(
      ({ object }) =>
        object.kind === target.kind && name.test(object.metadata.name) && (apiVersion === '' || object.apiVersion === apiVersion),
    );
    if (selected.length === 0) throw new Error(`${dir}/${path}: the target selects nothing`);
    for (const { object } of selected) applyJsonPatch(object, operations);
  }
  return copies;
}

/** Splits a generator entry `key=path` into its key and path. */
export function generatorFile(entry: string): { key: string; path: string } {
  const at = entry.indexOf('=');
  if (at < 0) return { key: entry.split('/').pop()!, path: entry };
  return { key: entry.slice(0, at), path: entry.slice(at + 1) };
}

/** Every object of every listed resource file; a YAML error throws with the file name. */
export function loadResources(kustomization = loadKustomization()): Loaded[] {
  return kustomization.resources.flatMap((file) =>
    parseAllDocuments(readFileSync(join(manifestsDir, file), 'utf8')).flatMap((document) => {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]!.message}`);
      const object = document.toJS() as KubeObject | null;
      return object === null ? [] : [{ file, object }];
    }),
  );
}

/**
 * The ConfigMaps the generator makes, under their unhashed names (kustomize rewrites references
 * to the hashed name). A listed file that does not exist yet is left out of `data`.
 */
export function generatedConfigMaps(kustomization = loadKustomization()): Loaded[] {
  return kustomization.configMapGenerator.map((generator) => {
    const data: Record<string, string> = {};
    for (const entry of generator.files) {
      const { key, path } = generatorFile(entry);
      const full = join(manifestsDir, path);
      if (existsSync(full)) data[key] = readFileSync(full, 'utf8');
    }
    return {
      file: 'kustomization.yaml',
      object: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: generator.name,
          ...(generator.namespace ? { namespace: generator.namespace } : {}),
          labels: generator.options?.labels ?? {},
        },
        data,
      },
    };
  });
}

/** Resources and generated ConfigMaps together: everything `kubectl apply -k` creates. */
export function loadAll(): Loaded[] {
  const kustomization = loadKustomization();
  return [...loadResources(kustomization), ...generatedConfigMaps(kustomization)];
}

/** Every file below manifests/ except the tests and their helpers. */
export function listManifestFiles(dir = manifestsDir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) return listManifestFiles(full);
    return entry.name.endsWith('.ts') ? [] : [relative(manifestsDir, full)];
  });
}

export function find(all: Loaded[], kind: string, name: string): KubeObject {
  const found = all.find(({ object }) => object.kind === kind && object.metadata.name === name);
  if (!found) throw new Error(`no ${kind} named ${name} in manifests/`);
  return found.object;
}

/** The pod template of a Deployment or StatefulSet. */
export function podTemplate(workload: KubeObject): IPodTemplateSpec {
  return (workload.spec as { template: IPodTemplateSpec }).template;
}

export function container(workload: KubeObject, name: string): IContainer {
  const found = podTemplate(workload).spec?.containers.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`${workload.kind}/${workload.metadata.name} has no container ${name}`);
  return found;
}

/** The workloads whose pods carry every label of `selector`. */
export function workloadsSelectedBy(all: Loaded[], selector: Record<string, string>): KubeObject[] {
  return all
    .map(({ object }) => object)
    .filter((object) => object.kind === 'Deployment' || object.kind === 'StatefulSet')
    .filter((workload) => {
      const labels = podTemplate(workload).metadata?.labels ?? {};
      return Object.entries(selector).every(([key, value]) => labels[key] === value);
    });
}

/**
 * The environment one container gets: `env` values and references plus every key of the
 * ConfigMaps and Secrets in `envFrom`, resolved against the manifests.
 */
export function containerEnv(all: Loaded[], target: IContainer): Map<string, string> {
  const env = new Map<string, string>();
  const source = (kind: 'ConfigMap' | 'Secret', name: string): Record<string, string> => {
    const object = find(all, kind, name) as KubeObject & { data?: Record<string, string>; stringData?: Record<string, string> };
    return { ...object.data, ...object.stringData };
  };
  for (const from of target.envFrom ?? []) {
    if (from.configMapRef) Object.entries(source('ConfigMap', from.configMapRef.name!)).forEach(([k, v]) => env.set(k, v));
    if (from.secretRef) Object.entries(source('Secret', from.secretRef.name!)).forEach(([k, v]) => env.set(k, v));
  }
  for (const variable of target.env ?? []) {
    const configMapKey = variable.valueFrom?.configMapKeyRef;
    const secretKey = variable.valueFrom?.secretKeyRef;
    const value = configMapKey
      ? source('ConfigMap', configMapKey.name!)[configMapKey.key]
      : secretKey
        ? source('Secret', secretKey.name!)[secretKey.key]
        : variable.value;
    if (value === undefined) throw new Error(`${target.name}: ${variable.name} refers to a key that does not exist`);
    env.set(variable.name, value);
  }
  return env;
}
