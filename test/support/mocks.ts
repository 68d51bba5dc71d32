// Runs the program (index.ts) under pulumi.runtime.setMocks: no engine, no plugins.
// Records every registered resource so tests can assert on the resource graph.
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";

export interface RecordedResource {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, unknown>;
}

const PROGRAM = path.resolve(__dirname, "..", "..", "index.ts");

/** What the last `runProgram` registered, kept even when the program throws. */
export const registered: RecordedResource[] = [];

/** Loads the program fresh with `config` (keys without the project prefix). */
export async function runProgram(config: Record<string, string>): Promise<{
    resources: RecordedResource[];
    outputs: Record<string, unknown>;
}> {
    registered.length = 0;
    const resources = registered;
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                resources.push({ type: args.type, name: args.name, inputs: args.inputs });
                return { id: `${args.name}-id`, state: args.inputs };
            },
            call(args) {
                return args.inputs;
            },
        },
        "bluegreen",
        "unit",
        true,
    );
    pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [`bluegreen:${k}`, v])));
    for (const cached of Object.keys(require.cache)) {
        if (!cached.includes(`${path.sep}node_modules${path.sep}`)) delete require.cache[cached];
    }
    const program = require(PROGRAM) as Record<string, unknown>;
    const outputs: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(program)) {
        outputs[name] = pulumi.Output.isInstance(value) ? await outputValue(value) : value;
    }
    return { resources: [...resources], outputs };
}

function outputValue<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((v) => resolve(v)));
}
