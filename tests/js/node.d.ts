// The little of Node that typed_client.ts uses, so that the check needs no @types/node.
declare const process: {
  argv: string[];
  stdout: { write(text: string): boolean };
  stderr: { write(text: string): boolean };
  exit(code: number): never;
};
