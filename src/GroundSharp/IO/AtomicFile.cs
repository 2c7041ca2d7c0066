using System.Text;
using System.Text.Json;

namespace GroundSharp.IO;

/// <summary>
/// Writes a file through a temporary file in the same folder, then renames it over the target: readers (and a
/// killed run) never see a half-written file. <c>durable</c> also flushes to disk before the rename (checkpoints,
/// results); bulk outputs that can simply be regenerated skip it.
/// </summary>
public static class AtomicFile
{
    private static readonly JsonSerializerOptions IndentedJson = new() { WriteIndented = true };

    public static void WriteAllText(string path, string text, bool durable = true) =>
        WriteAllBytes(path, new UTF8Encoding(false).GetBytes(text), durable);

    public static void WriteAllBytes(string path, byte[] bytes, bool durable = true) =>
        Write(path, s => s.Write(bytes), durable);

    /// <summary>The value as indented JSON (or with <paramref name="options"/>).</summary>
    public static void WriteJson<T>(string path, T value, JsonSerializerOptions? options = null) =>
        WriteAllText(path, JsonSerializer.Serialize(value, options ?? IndentedJson));

    public static void Write(string path, Action<FileStream> write, bool durable = true)
    {
        var fullPath = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(fullPath)!;
        if (!Directory.Exists(folder)) throw new GroundSharpException($"cannot write '{path}': folder '{folder}' does not exist");
        var temp = Path.Combine(folder, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: durable);
            }
            File.Move(temp, fullPath, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new GroundSharpException($"cannot write '{path}': {e.Message}", e);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private static void TryDelete(string temp)
    {
        try { File.Delete(temp); }
        catch (IOException) { /* the original error matters more */ }
        catch (UnauthorizedAccessException) { }
    }
}
