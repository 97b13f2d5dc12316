/**
 * Turns the generated validator sources of a CompiledSpec into functions, one validator at
 * a time, on first use. Used by the worker (handler.ts) and by the body offload thread
 * (body-task.ts).
 *
 * Why lazily: a worker gets a new config while it serves; evaluating the code of a large
 * spec at create() (V8 parses ~40 ms per MB of source on this machine; 5,000 operations
 * are tens of MB) would stall its event loop for seconds. Evaluating one validator is
 * microseconds, paid by the first request that needs it.
 *
 * A validator calls the validators it links to (spec-compile.ts) through `link(name)`,
 * which returns a trampoline: the target is evaluated on the trampoline's first call, so
 * a component that a request never reaches is never evaluated either.
 */
import { createRequire } from 'node:module';
import { re2Tester } from '../../../src/shared/re2-tester.js';

/** An ajv validator: returns validity, leaves its errors on `.errors`. */
export interface Validator {
  (data: unknown, cxt?: object): boolean;
  errors?: AjvError[] | null;
  evaluated?: unknown;
}

export interface AjvError {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

/** Resolves the modules the generated code requires (ajv's runtime helpers, ajv-formats, re2). */
const requireModule = createRequire(import.meta.url);

/**
 * `re2` in the generated code is our Re2Tester factory: patterns run per value (every array
 * element), and node-re2's string conversion would cost ~1 µs each.
 */
const requireForGenerated = Object.assign((id: string): unknown => (id === 're2' ? re2Tester : requireModule(id)), requireModule) as NodeRequire;

type ModuleFactory = (require: NodeRequire, module: { exports: unknown }, link: (name: string) => Validator) => void;

export class ValidatorSet {
  private readonly made = new Map<string, Validator>();

  /** `lookup` returns the source of a validator by name (undefined when unknown). */
  constructor(private readonly lookup: (name: string) => string | undefined) {}

  /** The validator `name`, evaluated now if it was not yet. Throws if the source is missing or broken. */
  get(name: string): Validator {
    const known = this.made.get(name);
    if (known !== undefined) return known;
    const source = this.lookup(name);
    if (source === undefined) throw new Error(`oas-validation: no generated code for validator ${name}`);
    // The source is ajv's generated code for schemas of the configured spec (never request
    // data); it requires only ajv's runtime helpers, ajv-formats and re2.
    const factory = new Function('require', 'module', 'link', source) as ModuleFactory;
    const mod: { exports: unknown } = { exports: {} };
    factory(requireForGenerated, mod, (target) => this.trampoline(target));
    const fn = mod.exports as Validator;
    if (typeof fn !== 'function') throw new Error(`oas-validation: generated code for validator ${name} exports no function`);
    this.made.set(name, fn);
    return fn;
  }

  private trampoline(name: string): Validator {
    let real: Validator | null = null;
    const set = this;
    const t: Validator = function linked(data: unknown, cxt?: object): boolean {
      const fn = (real ??= set.get(name));
      const ok = fn(data, cxt);
      t.errors = fn.errors ?? null;
      return ok;
    };
    // ajv reads `.evaluated` of a callee to track unevaluatedProperties/Items (3.1).
    Object.defineProperty(t, 'evaluated', { get: () => (real ??= set.get(name)).evaluated });
    return t;
  }

  /** Validators evaluated so far (tests and measurements). */
  get size(): number {
    return this.made.size;
  }
}
