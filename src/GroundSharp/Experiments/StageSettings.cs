using System.Text.Json;
using GroundSharp.Eval;
using GroundSharp.IO;

namespace GroundSharp.Experiments;

/// <summary>
/// The settings an experiment stage was trained with (<c>runs/&lt;stage&gt;/settings.json</c>), so that a rerun in the same
/// folder with other knobs (steps, learning rate, model, …) stops with a clear error instead of silently reusing or
/// resuming a stage trained differently.
/// </summary>
public static class StageSettings
{
    public const string FileName = "settings.json";

    /// <summary>
    /// Records <paramref name="settings"/> for the stage in <paramref name="stageDir"/>, or checks them against the recorded
    /// ones. A stage folder from before this record existed is adopted as it is.
    /// </summary>
    public static void Check(string stageDir, string stageName, object settings)
    {
        var path = Path.Combine(stageDir, FileName);
        var current = JsonSerializer.SerializeToElement(settings, EvalReport.Json);
        if (File.Exists(path))
        {
            JsonElement recorded;
            try { recorded = JsonDocument.Parse(File.ReadAllText(path)).RootElement; }
            catch (JsonException e) { throw new GroundSharpException($"{path}: not valid JSON ({e.Message}); delete the stage folder to redo the stage"); }
            var differing = Differences(recorded, current, "").ToList();
            if (differing.Count > 0)
                throw new GroundSharpException($"{stageDir}: the '{stageName}' stage there was trained with other settings ({string.Join(", ", differing.Take(4))}); " +
                                               "use another --out folder, or delete that stage folder to redo it");
            return;
        }
        Directory.CreateDirectory(stageDir);
        AtomicFile.WriteJson(path, current, EvalReport.Json);
    }

    /// <summary>Paths of the values that differ, as "path: recorded → current".</summary>
    internal static IEnumerable<string> Differences(JsonElement recorded, JsonElement current, string path)
    {
        if (recorded.ValueKind == JsonValueKind.Object && current.ValueKind == JsonValueKind.Object)
        {
            var names = recorded.EnumerateObject().Select(p => p.Name).Union(current.EnumerateObject().Select(p => p.Name));
            foreach (var name in names)
            {
                bool inRecorded = recorded.TryGetProperty(name, out var r), inCurrent = current.TryGetProperty(name, out var c);
                string sub = path.Length == 0 ? name : path + "." + name;
                if (!inRecorded || !inCurrent) yield return $"{sub}: {(inRecorded ? r.GetRawText() : "absent")} → {(inCurrent ? c.GetRawText() : "absent")}";
                else foreach (var d in Differences(r, c, sub)) yield return d;
            }
        }
        else if (recorded.GetRawText() != current.GetRawText())
            yield return $"{path}: {recorded.GetRawText()} → {current.GetRawText()}";
    }
}
