using System.CommandLine;
using GroundSharp.Models;

namespace GroundSharp.Cli.Commands;

/// <summary>
/// <c>groundsharp export --checkpoint C --out DIR</c>: a trained checkpoint as a model to ship (the format of
/// models/default: float16 weights, the config and provenance in the metadata, PROVENANCE.md beside it).
/// </summary>
public static class ExportCommand
{
    public static Command Build()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "trained checkpoint (.safetensors or .pth)", Required = true };
        var config = new Option<string?>("--config") { Description = "model config JSON (default: the checkpoint's own)" };
        var output = new Option<string>("--out") { Description = "folder to write model.safetensors and PROVENANCE.md into", Required = true };
        var notes = new Option<string?>("--notes") { Description = "markdown file appended to PROVENANCE.md: how the checkpoint was trained, its results" };
        var cmd = new Command("export", "Write a trained checkpoint as a model to ship (float16, with its config and provenance), as models/default.")
        {
            checkpoint, config, output, notes,
        };
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            string source = ModelsCommand.ResolveArgument(r.GetValue(checkpoint))!, folder = r.GetValue(output)!;
            string? notesText = r.GetValue(notes) is { } file
                ? File.Exists(file) ? File.ReadAllText(file) : throw new GroundSharpException($"--notes: file not found: {file}")
                : null;
            string command = "groundsharp " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1));
            var md = $"# The model in {Path.GetFileName(Path.GetFullPath(folder))}/\n\n- exported by: `{command}` (GroundSharp commit `{BuildInfo.Commit}`)\n- from: `{source}`, float16 weights\n";
            if (notesText is not null) md += "\n" + notesText + "\n";
            var loaded = AlbefLoader.Load(source, r.GetValue(config));
            using (var model = loaded.Model)
                DefaultModel.Export(model, folder, new Dictionary<string, string>
                {
                    ["groundsharp_commit"] = BuildInfo.Commit, ["command"] = command, ["source_checkpoint"] = Path.GetFileName(source),
                }, md);
            Console.WriteLine($"wrote {Path.Combine(folder, DefaultModel.ModelFile)} and {DefaultModel.ProvenanceFile}");
            return 0;
        }));
        return cmd;
    }
}
