// The one place that reads stack config. Every key is validated here, before any
// resource is registered, so a bad value fails `pulumi preview` and changes nothing.
// Components receive the typed result and never call `new pulumi.Config()`.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";

export const COLORS = ["blue", "green"] as const;
export type Color = (typeof COLORS)[number];

export const TARGETS = ["local", "ssh", "aws"] as const;
export type Target = (typeof TARGETS)[number];

/** The colour that is not `color`: the idle pool when `color` is live. */
export function otherColor(color: Color): Color {
    return color === "blue" ? "green" : "blue";
}

/**
 * One config key: how to parse its raw string, its default, and the line of help
 * that ends every error about it.
 */
interface KeySpec<T> {
    readonly schema: z.ZodType<T>;
    readonly default?: T;
    /** What to do instead, shown after the bad value. */
    readonly fix: string;
}

function key<T>(schema: z.ZodType<T>, fix: string, defaultValue?: T): KeySpec<T> {
    return { schema, fix, default: defaultValue };
}

/** Every key the program reads. Nothing outside this table reads config. */
export const CONFIG_KEYS = {
    /** Which pool serves traffic. Required: a switch is always an explicit choice. */
    activeColor: key(z.enum(COLORS), "pulumi config set activeColor blue   (or green)"),
    /** Where the hosts come from. Default: local. */
    target: key(z.enum(TARGETS), "pulumi config set target local   (or ssh, aws)", "local"),
} as const;

type Keys = typeof CONFIG_KEYS;
export type DeploymentConfig = { readonly [K in keyof Keys]: Keys[K] extends KeySpec<infer T> ? T : never };

/** A config problem: names the key, the bad value and the fix. */
export class ConfigError extends Error {
    constructor(readonly problems: readonly string[]) {
        super(
            problems.length === 1
                ? problems[0]
                : `${problems.length} config problems:\n  - ${problems.join("\n  - ")}`,
        );
        this.name = "ConfigError";
    }
}

function describeIssue(issue: z.core.$ZodIssue): string {
    if (issue.code === "invalid_value") {
        return `must be one of ${issue.values.map((v) => String(v)).join(", ")}`;
    }
    return issue.message;
}

/**
 * Validates raw config strings (as `pulumi config get` returns them) for `project`.
 * Pure: reads nothing but its arguments, so tests can call it directly.
 */
export function parseConfig(project: string, raw: Readonly<Record<string, string | undefined>>): DeploymentConfig {
    const problems: string[] = [];
    const result: Record<string, unknown> = {};
    for (const [name, spec] of Object.entries(CONFIG_KEYS) as [keyof Keys, KeySpec<unknown>][]) {
        const value = raw[name];
        const qualified = `${project}:${name}`;
        if (value === undefined || value === "") {
            if (spec.default === undefined) {
                problems.push(`${qualified} is not set. Fix: ${spec.fix}`);
            } else {
                result[name] = spec.default;
            }
            continue;
        }
        const parsed = spec.schema.safeParse(value);
        if (parsed.success) {
            result[name] = parsed.data;
        } else {
            const why = parsed.error.issues.map(describeIssue).join("; ");
            problems.push(`${qualified} has the invalid value ${JSON.stringify(value)}: ${why}. Fix: ${spec.fix}`);
        }
    }
    for (const name of Object.keys(raw)) {
        if (!(name in CONFIG_KEYS)) {
            problems.push(
                `${project}:${name} is not a key this program reads (known: ${Object.keys(CONFIG_KEYS).join(", ")}). ` +
                    `Fix: pulumi config rm ${name}`,
            );
        }
    }
    if (problems.length > 0) {
        throw new ConfigError(problems);
    }
    return result as DeploymentConfig;
}

/**
 * Reads every key of the current stack once and validates it. A bad value becomes a
 * `pulumi.RunError`, which the engine prints without a stack trace.
 */
export function loadConfig(): DeploymentConfig {
    const project = pulumi.getProject();
    const config = new pulumi.Config();
    const raw: Record<string, string | undefined> = {};
    for (const name of Object.keys(CONFIG_KEYS)) {
        raw[name] = config.get(name);
    }
    for (const name of projectKeysInStack(project)) {
        if (!(name in raw)) raw[name] = config.get(name) ?? "";
    }
    try {
        return parseConfig(project, raw);
    } catch (err) {
        if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
        throw err;
    }
}

/** The keys of this project that the stack sets, so that typos are caught too. */
function projectKeysInStack(project: string): string[] {
    const prefix = `${project}:`;
    return Object.keys(pulumi.runtime.allConfig())
        .filter((k) => k.startsWith(prefix))
        .map((k) => k.slice(prefix.length));
}
