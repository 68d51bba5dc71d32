// Runs the program (index.ts) under pulumi.runtime.setMocks: no engine, no plugins.
// Records every registered resource so tests can assert on the resource graph. A refusal
// (the program logs an error and exits with code 32) becomes a rejected ProgramRefused.
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";

export interface RecordedResource {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, unknown>;
}

export class ProgramRefused extends Error {
    constructor(readonly messages: readonly string[], readonly exitCode: number) {
        super(messages.join("\n"));
    }
}

const PROGRAM = path.resolve(__dirname, "..", "..", "index.ts");

/** What the last `runProgram` registered, kept even when the program is refused. */
export const registered: RecordedResource[] = [];

export interface RunOptions {
    /** Outputs the stack's previous update recorded (read through its StackReference). */
    readonly previousOutputs?: Record<string, unknown>;
}

/** Loads the program fresh with `config` (keys without the project prefix) and runs it. */
export async function runProgram(
    config: Record<string, string>,
    options: RunOptions = {},
): Promise<{ resources: RecordedResource[]; outputs: Record<string, unknown> }> {
    registered.length = 0;
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                if (args.type === "pulumi:pulumi:StackReference") {
                    return { id: args.name, state: { ...args.inputs, outputs: options.previousOutputs ?? {} } };
                }
                registered.push({ type: args.type, name: args.name, inputs: args.inputs });
                return { id: `${args.name}-id`, state: args.inputs };
            },
            call(args) {
                return args.inputs;
            },
        },
        "bluegreen",
        "unit",
        false, // an update, not a preview: every output is known
        "organization",
    );
    // Nothing listens on this internal port: the program observes no running nginx.
    const withDefaults = { internalPort: "65001", ...config };
    pulumi.runtime.setAllConfig(
        Object.fromEntries(Object.entries(withDefaults).map(([k, v]) => [`bluegreen:${k}`, v])),
        config.drainToken !== undefined ? ["bluegreen:drainToken"] : [],
    );
    for (const cached of Object.keys(require.cache)) {
        if (!cached.includes(`${path.sep}node_modules${path.sep}`)) delete require.cache[cached];
    }

    const logged: string[] = [];
    const realExit = process.exit;
    const realLogError = pulumi.log.error;
    pulumi.log.error = (message: string) => {
        logged.push(message);
        return Promise.resolve();
    };
    process.exit = ((code?: number) => {
        throw new ProgramRefused(logged, code ?? 0);
    }) as typeof process.exit;
    try {
        const program = require(PROGRAM) as () => Promise<Record<string, unknown>>;
        const exported = await program();
        const outputs: Record<string, unknown> = {};
        for (const [name, value] of Object.entries(exported)) {
            outputs[name] = await resolved(value);
        }
        return { resources: [...registered], outputs };
    } finally {
        process.exit = realExit;
        pulumi.log.error = realLogError;
    }
}

async function resolved(value: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(value)) {
        return new Promise((resolve) => (value as pulumi.Output<unknown>).apply((v) => resolve(v)));
    }
    return value;
}
