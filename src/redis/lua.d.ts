/** Lua scripts are imported as text (`with { type: "text" }`) so `bun build --compile` embeds them. */
declare module "*.lua" {
  const text: string;
  export default text;
}
