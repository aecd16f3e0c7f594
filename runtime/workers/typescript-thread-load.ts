// Loading a TypeScript predictor in its thread: import the file (Node strips the types of
// .ts), check it default-exports a class with a predict method, construct it with
// predictor.config and await its optional init(); every way this can go wrong is an Error with
// a message that says what was expected. Also: whether predict may read its second argument,
// which decides if the front sends request headers at all.

import { existsSync, statSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { ThreadConfig } from './typescript-thread.ts';
import type { Predictor } from './typescript-thread-predict.ts';
import { describe } from './typescript-thread-errors.ts';

/** The initialised predictor of `cfg.predictorPath`. */
export async function load(cfg: ThreadConfig): Promise<Predictor> {
  const file = cfg.predictorPath;
  if (!existsSync(file)) throw new Error(`predictor file not found: ${file}`);
  if (!statSync(file).isFile()) throw new Error(`the predictor path is not a file: ${file}`);
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const Cls = mod.default;
  const expected =
    'expected `export default class { constructor(config) {...} predict(payload, { queryParams, headers }) {...} }`';
  if (Cls === undefined) {
    const names = Object.keys(mod).filter((k) => k !== 'default' && k !== 'module.exports');
    throw new Error(
      `${file} has no default export; ${expected}` + (names.length > 0 ? ` (it exports: ${names.join(', ')})` : ''),
    );
  }
  if (typeof Cls !== 'function') {
    throw new Error(`the default export of ${file} is ${describe(Cls)}, not a class; ${expected}`);
  }
  let instance: Predictor;
  try {
    instance = new (Cls as new (config: unknown) => Predictor)(cfg.config);
  } catch (err) {
    if (err instanceof TypeError && /is not a constructor/.test(err.message)) {
      throw new Error(`the default export of ${file} is not a class (it cannot be called with new); ${expected}`);
    }
    throw err;
  }
  const handlers = instance !== null && typeof instance === 'object' ? handlerMethods(instance) : undefined;
  if (handlers !== undefined) {
    const verbs = Object.keys(handlers);
    if (cfg.batching && (verbs.length !== 1 || verbs[0] !== 'POST')) {
      const names = verbs.map((v) => HANDLER_METHODS[v]).join(', ');
      throw new Error(`with server_side_batching, a handler class may only define handlePost (it defines ${names})`);
    }
    if (typeof instance.init === 'function') await instance.init();
    return instance;
  }
  if (instance === null || typeof instance !== 'object' || typeof instance.predict !== 'function') {
    throw new Error(`the default-exported class of ${file} has no predict method; ${expected}`);
  }
  if (typeof instance.init === 'function') await instance.init();
  return instance;
}

/** Methods of a handler class, Cortex 0.34-0.35's interface in camelCase. */
export const HANDLER_METHODS: Record<string, string> = {
  POST: 'handlePost',
  GET: 'handleGet',
  PUT: 'handlePut',
  PATCH: 'handlePatch',
  DELETE: 'handleDelete',
};

type Handler = (payload: unknown, ctx: unknown) => unknown;

/**
 * A class without predict but with handlePost, handleGet, handlePut, handlePatch or
 * handleDelete: those methods (bound) by HTTP method. undefined for a predictor.
 */
export function handlerMethods(instance: object): Record<string, Handler> | undefined {
  if (typeof (instance as Predictor).predict === 'function') return undefined;
  let found: Record<string, Handler> | undefined;
  for (const [verb, name] of Object.entries(HANDLER_METHODS)) {
    const fn = (instance as Record<string, unknown>)[name];
    if (typeof fn === 'function') (found ??= {})[verb] = (fn as Handler).bind(instance);
  }
  return found;
}

/**
 * Whether a predict/postPredict function may read its second argument (the request context).
 * Conservative: only a parameter list of at most one plain identifier, in a function that does
 * not mention `arguments` or `eval`, is known not to.
 */
export function mayReadSecondArgument(fn: (...args: never[]) => unknown): boolean {
  if (fn.length >= 2) return true;
  let src: string;
  try {
    src = Function.prototype.toString.call(fn);
  } catch {
    return true;
  }
  if (src.includes('[native code]') || /\barguments\b|\beval\b/.test(src)) return true;
  const open = src.indexOf('(');
  const arrow = src.indexOf('=>');
  let params: string;
  if (arrow !== -1 && (open === -1 || open > arrow)) {
    params = src.slice(0, arrow).replace(/^\s*async\s/, ''); // `x => ...`, `async x => ...`
  } else {
    if (open === -1) return true;
    let depth = 0;
    let close = -1;
    for (let i = open; i < src.length && close === -1; i++) {
      const c = src.charCodeAt(i);
      if (c === 40) depth++;
      else if (c === 41 && --depth === 0) close = i;
    }
    if (close === -1) return true;
    params = src.slice(open + 1, close);
  }
  return !/^\s*(?:[A-Za-z_$][\w$]*)?\s*$/.test(params);
}
