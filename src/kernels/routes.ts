/**
 * Kernels as ordered route tables. A kernel module declares its routes (name, the condition under
 * which the route computes the call, the condition under which it is the one to take, and the code
 * that runs it); {@link routedKernel} turns the table into the kernel function tfjs calls, which
 * takes the first route that applies and pays. The same table is what the module's header lists,
 * so the header and the dispatch cannot drift (test/kernel_routes.test.ts checks both).
 *
 * For tests and benches, not exported from the package:
 * - {@link overrideKernelRoutes} switches a route off, or forces it, and returns the undo;
 * - {@link traceKernelRoutes} records which route every kernel call took;
 * - {@link kernelRouteTables} lists the tables.
 */
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';

import { runStock, type KernelArgs, type KernelBackend } from './registry.js';

/**
 * How a route is chosen: `auto` as its table says; `off` never; `force` before every other route
 * wherever it applies, its pay-off condition ignored.
 */
export type RouteMode = 'auto' | 'off' | 'force';

/** One way of computing a kernel. */
export interface Route<C> {
  /** Kebab-case, unique within its table. */
  readonly name: string;
  /** Whether the route computes this call correctly: layout, shapes, dtypes, and what it needs of the backend. */
  readonly applies: (ctx: C) => boolean;
  /** Whether, once it applies, it is the faster choice; omitted: whenever it applies. `force` skips this test. */
  readonly pays?: (ctx: C) => boolean;
  readonly run: (ctx: C) => TensorInfo | TensorInfo[];
}

/** A kernel of one backend as an ordered route table. */
export interface RouteTable<C> {
  readonly backend: KernelBackend;
  readonly kernelName: string;
  /** `replace`: in place of the stock kernel (reached through a `stock` route); `add`: the backend has none. */
  readonly install: 'replace' | 'add';
  /** What the routes' conditions read, computed once per call. */
  readonly context: (args: KernelArgs) => C;
  readonly routes: readonly Route<C>[];
}

/** A route table made into a kernel function. */
export interface RoutedKernel {
  readonly backend: KernelBackend;
  readonly kernelName: string;
  readonly install: 'replace' | 'add';
  /** The route names, in the order they are tried. */
  readonly routeNames: readonly string[];
  /** Made once per table: the registry recognises ours by identity. */
  readonly kernelFunc: KernelFunc;
}

/** The last route of a replacement: the stock kernel, on the call's own arguments. */
export function stockRoute<C extends { readonly args: KernelArgs }>(
  backend: KernelBackend,
  kernelName: string,
): Route<C> {
  return { name: 'stock', applies: () => true, run: (ctx) => runStock(backend, kernelName, ctx.args) };
}

/** One kernel call seen by {@link traceKernelRoutes}. */
export interface RouteTraceEntry {
  readonly backend: KernelBackend;
  readonly kernel: string;
  readonly route: string;
  /** The shapes of the call's inputs, by input name. */
  readonly shapes: Readonly<Record<string, readonly number[]>>;
  /** The call's attributes, as tfjs passed them. */
  readonly attrs: Readonly<NamedAttrMap>;
  /** 0 for a call from tfjs, 1 and more for a call one of our routes made. */
  readonly depth: number;
}

/** Route modes to set, by kernel name (or `'*'`: every kernel of the backend that has the route), then route name. */
export type RouteOverrides = Readonly<Record<string, Readonly<Record<string, RouteMode>>>>;

interface TableState {
  readonly kernel: RoutedKernel;
  readonly modes: RouteMode[];
}

const tables = new Map<string, TableState>();
const traces: RouteTraceEntry[][] = [];
let depth = 0;

const tableKey = (backend: KernelBackend, kernelName: string): string => `${backend}/${kernelName}`;

function shapesOf(args: KernelArgs): Record<string, readonly number[]> {
  const shapes: Record<string, readonly number[]> = {};
  for (const [name, info] of Object.entries(args.inputs)) if (info != null) shapes[name] = [...info.shape];
  return shapes;
}

/** Turns `table` into a kernel function that takes, per call, the first route that applies and pays. */
export function routedKernel<C>(table: RouteTable<C>): RoutedKernel {
  const { backend, kernelName, routes } = table;
  const names = routes.map((r) => r.name);
  if (new Set(names).size !== names.length) throw new Error(`${backend} ${kernelName}: route names repeat`);
  const modes: RouteMode[] = routes.map(() => 'auto');
  const choose = (ctx: C): Route<C> | undefined => {
    for (let i = 0; i < routes.length; i++) {
      if (modes[i] === 'force' && (routes[i] as Route<C>).applies(ctx)) return routes[i];
    }
    for (let i = 0; i < routes.length; i++) {
      const route = routes[i] as Route<C>;
      if (modes[i] === 'off' || !route.applies(ctx)) continue;
      if (modes[i] === 'force' || route.pays === undefined || route.pays(ctx)) return route;
    }
    return undefined;
  };
  const kernelFunc: KernelFunc = (args) => {
    const ctx = table.context(args);
    const route = choose(ctx);
    if (route === undefined)
      throw new Error(`${backend} ${kernelName}: no route applies to this call (or all are off)`);
    if (traces.length > 0) {
      const shapes = shapesOf(args);
      const entry: RouteTraceEntry = {
        backend,
        kernel: kernelName,
        route: route.name,
        shapes,
        attrs: args.attrs ?? {},
        depth,
      };
      for (const trace of traces) trace.push(entry);
    }
    depth++;
    try {
      return route.run(ctx);
    } finally {
      depth--;
    }
  };
  const kernel: RoutedKernel = { backend, kernelName, install: table.install, routeNames: names, kernelFunc };
  tables.set(tableKey(backend, kernelName), { kernel, modes });
  return kernel;
}

/**
 * Sets route modes and returns a function that puts back the modes they replaced. Throws, changing
 * nothing, for a kernel or route name the backend's tables do not have.
 *
 * ```ts
 * const restore = overrideKernelRoutes({ Conv2DBackpropInput: { 'sub-pixel': 'off' } });
 * try { ... } finally { restore(); }
 * ```
 */
export function overrideKernelRoutes(overrides: RouteOverrides, backend: KernelBackend = 'wasm'): () => void {
  const changes: { modes: RouteMode[]; index: number; mode: RouteMode }[] = [];
  for (const [kernelName, routeModes] of Object.entries(overrides)) {
    const targets =
      kernelName === '*'
        ? [...tables.values()].filter((t) => t.kernel.backend === backend)
        : [tables.get(tableKey(backend, kernelName))].filter((t): t is TableState => t !== undefined);
    if (targets.length === 0) throw new Error(`overrideKernelRoutes: no ${backend} kernel '${kernelName}' has routes`);
    for (const [routeName, mode] of Object.entries(routeModes)) {
      if (mode !== 'auto' && mode !== 'off' && mode !== 'force') {
        throw new Error(`overrideKernelRoutes: mode '${String(mode)}' is not 'auto', 'off' or 'force'`);
      }
      let found = false;
      for (const { kernel, modes } of targets) {
        const index = kernel.routeNames.indexOf(routeName);
        if (index < 0) continue;
        found = true;
        changes.push({ modes, index, mode });
      }
      if (!found) {
        const known = targets.flatMap((t) => t.kernel.routeNames);
        throw new Error(
          `overrideKernelRoutes: ${backend} ${kernelName} has no route '${routeName}' (routes: ${[...new Set(known)].join(', ')})`,
        );
      }
    }
  }
  const previous = changes.map(({ modes, index }) => modes[index] as RouteMode);
  for (const { modes, index, mode } of changes) modes[index] = mode;
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    for (let i = changes.length - 1; i >= 0; i--) {
      const { modes, index } = changes[i] as (typeof changes)[number];
      modes[index] = previous[i] as RouteMode;
    }
  };
}

/**
 * Runs `fn` and returns its result with the route every routed kernel call took meanwhile, in call
 * order (calls our routes make to other kernels included, with their depth). Traces may nest.
 */
export async function traceKernelRoutes<T>(
  fn: () => T | Promise<T>,
): Promise<{ result: T; routes: RouteTraceEntry[] }> {
  const routes: RouteTraceEntry[] = [];
  traces.push(routes);
  try {
    const result = await fn();
    return { result, routes };
  } finally {
    traces.splice(traces.indexOf(routes), 1);
  }
}

/** The route tables defined so far (kernel modules define theirs on import), of one backend or all. */
export function kernelRouteTables(backend?: KernelBackend): RoutedKernel[] {
  return [...tables.values()].map((t) => t.kernel).filter((k) => backend === undefined || k.backend === backend);
}
