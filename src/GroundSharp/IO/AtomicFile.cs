namespace GroundSharp.IO;

/// <summary>Writes a file through a temporary file in the same folder, so readers never see a half-written file.</summary>
internal static class AtomicFile
{
    public static void Write(string path, Action<FileStream> write)
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
                stream.Flush(flushToDisk: true);
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
