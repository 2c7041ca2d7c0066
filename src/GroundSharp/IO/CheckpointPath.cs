namespace GroundSharp.IO;

/// <summary>Checks that a checkpoint path names a file, and says what it is when it does not.</summary>
public static class CheckpointPath
{
    /// <param name="what">How the message names the path, e.g. "checkpoint" or "--init: checkpoint".</param>
    public static void RequireFile(string path, string what = "checkpoint")
    {
        if (File.Exists(path)) return;
        if (!Directory.Exists(path)) throw new GroundSharpException($"{what} not found: {path}");
        // A training checkpoint folder holds the model file to give instead.
        var inside = Directory.GetFiles(path, "*.safetensors").Concat(Directory.GetFiles(path, "*.pth")).Order(StringComparer.Ordinal).Take(3).ToList();
        throw new GroundSharpException($"{what} {path} is a directory, not a checkpoint file" +
            (inside.Count > 0 ? $" (give a file in it, e.g. {string.Join(" or ", inside)})" : ""));
    }
}
