using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace GroundSharp.IO;

/// <summary>One published checkpoint of the registry manifest (<c>Resources/models.json</c>, docs/models.md).</summary>
public sealed record RegisteredModel
{
    public required string Name { get; init; }
    public string Description { get; init; } = "";
    /// <summary>albef, amc or rec-detector.</summary>
    public string Kind { get; init; } = "";
    /// <summary>A direct download address; null for a model published only behind a share page.</summary>
    public string? Url { get; init; }
    /// <summary>The share page to download from by hand when there is no direct address.</summary>
    public string? Page { get; init; }
    public required string FileName { get; init; }
    /// <summary>The file's size in bytes, when the manifest knows it (else the first download records it).</summary>
    public long? SizeBytes { get; init; }
    /// <summary>The file's SHA-256 (hex), when the manifest knows it (else the first download records it).</summary>
    public string? Sha256 { get; init; }
}

/// <summary>What a finished download (or import) recorded next to the file; later uses check the file against it.</summary>
public sealed record DownloadRecord(string Name, string Source, long SizeBytes, string Sha256, DateTimeOffset Downloaded);

/// <summary>Progress of a transfer: bytes in the file so far, the total when known, bytes this run has fetched.</summary>
public readonly record struct DownloadProgress(long Bytes, long? Total, long FetchedThisRun, bool Resumed);

/// <summary>
/// The published checkpoints by name, downloaded on request into a cache folder (<c>GROUNDSHARP_HOME</c>, else the
/// platform's cache directory) — resumable with HTTP Range, written under a temporary name and renamed, size
/// checked, the SHA-256 recorded on first download and checked afterwards.
/// </summary>
public sealed class ModelRegistry
{
    public const string HomeVariable = "GROUNDSHARP_HOME";
    /// <summary>A manifest file to use instead of the built-in one (tests, mirrors, private models).</summary>
    public const string ManifestVariable = "GROUNDSHARP_MODELS_MANIFEST";
    private const string RecordFile = "download.json";
    private const string PartialSuffix = ".partial";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private sealed record Manifest(List<RegisteredModel> Models);

    public IReadOnlyList<RegisteredModel> Models { get; }
    /// <summary>The cache folder; each model lives in <c>Home/models/NAME/</c>.</summary>
    public string Home { get; }
    public string ManifestSource { get; }

    public ModelRegistry(IReadOnlyList<RegisteredModel> models, string home, string manifestSource)
    {
        Models = models;
        Home = home;
        ManifestSource = manifestSource;
    }

    /// <summary>The built-in manifest (or <c>$GROUNDSHARP_MODELS_MANIFEST</c>) and the cache folder from the environment.</summary>
    public static ModelRegistry FromEnvironment()
    {
        var manifestPath = Environment.GetEnvironmentVariable(ManifestVariable);
        string text, source;
        if (!string.IsNullOrEmpty(manifestPath))
        {
            if (!File.Exists(manifestPath)) throw new GroundSharpException($"model manifest not found: {manifestPath} (from ${ManifestVariable})");
            (text, source) = (File.ReadAllText(manifestPath), manifestPath);
        }
        else
        {
            using var stream = typeof(ModelRegistry).Assembly.GetManifestResourceStream("GroundSharp.models.json")
                ?? throw new InvalidOperationException("the built-in model manifest is missing from the assembly");
            (text, source) = (new StreamReader(stream).ReadToEnd(), "the built-in model manifest");
        }
        return new ModelRegistry(ParseManifest(text, source), DefaultHome(), source);
    }

    public static IReadOnlyList<RegisteredModel> ParseManifest(string json, string source)
    {
        Manifest? manifest;
        try { manifest = JsonSerializer.Deserialize<Manifest>(json, Json); }
        catch (JsonException e) { throw new GroundSharpException($"{source}: not a valid model manifest: {e.Message}", e); }
        if (manifest?.Models is null) throw new GroundSharpException($"{source}: a model manifest needs a \"models\" list");
        foreach (var m in manifest.Models)
        {
            if (string.IsNullOrWhiteSpace(m.Name) || m.Name.IndexOfAny(['/', '\\', '.']) >= 0)
                throw new GroundSharpException($"{source}: model name '{m.Name}' must be a plain name (no '/', '\\' or '.')");
            if (m.Url is null && m.Page is null) throw new GroundSharpException($"{source}: model '{m.Name}' has neither a url nor a page");
            if (string.IsNullOrWhiteSpace(m.FileName) || Path.GetFileName(m.FileName) != m.FileName)
                throw new GroundSharpException($"{source}: model '{m.Name}' needs a plain file_name");
        }
        var duplicate = manifest.Models.GroupBy(m => m.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new GroundSharpException($"{source}: model '{duplicate.Key}' is listed twice");
        return manifest.Models;
    }

    /// <summary><c>$GROUNDSHARP_HOME</c>, else the platform's cache folder: %LOCALAPPDATA%, ~/Library/Caches, $XDG_CACHE_HOME or ~/.cache, + /groundsharp.</summary>
    public static string DefaultHome()
    {
        var home = Environment.GetEnvironmentVariable(HomeVariable);
        if (!string.IsNullOrEmpty(home)) return Path.GetFullPath(home);
        string user = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string cache = OperatingSystem.IsWindows() ? Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData)
            : OperatingSystem.IsMacOS() ? Path.Combine(user, "Library", "Caches")
            : Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
            : Path.Combine(user, ".cache");
        return Path.Combine(cache, "groundsharp");
    }

    public RegisteredModel? Find(string name) => Models.FirstOrDefault(m => m.Name == name);

    public RegisteredModel Get(string name) => Find(name)
        ?? throw new GroundSharpException($"no model named '{name}' in {ManifestSource} (known: {string.Join(", ", Models.Select(m => m.Name))})");

    public string FolderOf(RegisteredModel model) => Path.Combine(Home, "models", model.Name);
    public string PathOf(RegisteredModel model) => Path.Combine(FolderOf(model), model.FileName);

    public DownloadRecord? RecordOf(RegisteredModel model)
    {
        var path = Path.Combine(FolderOf(model), RecordFile);
        if (!File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<DownloadRecord>(File.ReadAllText(path), Json); }
        catch (JsonException e) { throw new GroundSharpException($"{path}: the download record is corrupt ({e.Message}); delete {FolderOf(model)} and pull again", e); }
    }

    /// <summary>The downloaded file of a model, after a size check against its record (the SHA-256 is checked by <see cref="Verify"/>).</summary>
    public string LocalPath(string name) => Downloaded(name).Path;

    private (RegisteredModel Model, string Path, DownloadRecord Record) Downloaded(string name)
    {
        var model = Get(name);
        var path = PathOf(model);
        var record = RecordOf(model);
        if (!File.Exists(path) || record is null)
            throw new GroundSharpException($"model '{name}' is not downloaded yet: run 'groundsharp models pull {name}'");
        long size = new FileInfo(path).Length;
        if (size != record.SizeBytes)
            throw new GroundSharpException($"{path} has {size} bytes but {record.SizeBytes} were downloaded: the file was changed; pull it again");
        return (model, path, record);
    }

    /// <summary>Recomputes the SHA-256 of a downloaded model and compares it with the manifest's and the record's.</summary>
    public string Verify(string name)
    {
        var (model, path, record) = Downloaded(name);
        var sha = Sha256Of(path);
        if (!sha.Equals(record.Sha256, StringComparison.OrdinalIgnoreCase))
            throw new GroundSharpException($"{path}: SHA-256 {sha} differs from the {record.Sha256} recorded when it was downloaded: the file is corrupt; pull it again");
        if (model.Sha256 is not null && !sha.Equals(model.Sha256, StringComparison.OrdinalIgnoreCase))
            throw new GroundSharpException($"{path}: SHA-256 {sha} differs from the manifest's {model.Sha256}");
        return path;
    }

    /// <summary>
    /// Downloads a model (or resumes a partial download) and returns its path; a model already downloaded is
    /// verified instead. Refuses error statuses, HTML pages, a wrong size and a wrong SHA-256, keeping no file
    /// that failed a check (an interrupted transfer keeps its partial file, which the next pull resumes).
    /// </summary>
    public async Task<string> PullAsync(string name, HttpClient http, IProgress<DownloadProgress>? progress = null, CancellationToken cancel = default)
    {
        var model = Get(name);
        var path = PathOf(model);
        if (File.Exists(path) && RecordOf(model) is not null) return Verify(name);
        if (model.Url is null)
            throw new GroundSharpException($"model '{name}' is published only behind a share page: download {model.FileName} from {model.Page} by hand, " +
                $"then add it with 'groundsharp models pull {name} --file PATH'");
        Directory.CreateDirectory(FolderOf(model));
        var partial = path + PartialSuffix;
        long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        if (model.SizeBytes is { } known && have > known) { File.Delete(partial); have = 0; }

        using var request = new HttpRequestMessage(HttpMethod.Get, model.Url);
        if (have > 0) request.Headers.Range = new RangeHeaderValue(have, null);
        HttpResponseMessage response;
        try { response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel); }
        catch (HttpRequestException e) { throw new GroundSharpException($"{model.Url}: the download failed ({e.Message}); run the pull again to resume", e); }
        using (response)
        {
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && have > 0)
            {
                // The partial file is as long as (or longer than) the server's: start over.
                File.Delete(partial);
                return await PullAsync(name, http, progress, cancel);
            }
            if (!response.IsSuccessStatusCode)
                throw new GroundSharpException($"{model.Url} answered {(int)response.StatusCode} {response.ReasonPhrase}: the model is not there (a moved or dead link?)");
            var mediaType = response.Content.Headers.ContentType?.MediaType;
            if (mediaType is "text/html" or "application/xhtml+xml")
                throw new GroundSharpException($"{model.Url} answered an HTML page, not the checkpoint (a share or login page?); download it by hand and use 'groundsharp models pull {name} --file PATH'");

            bool resumed = have > 0 && response.StatusCode == HttpStatusCode.PartialContent;
            if (have > 0 && !resumed) have = 0; // the server ignored the Range: the whole file comes again
            if (resumed && response.Content.Headers.ContentRange is { } range && range.From != have)
                throw new GroundSharpException($"{model.Url} resumed at byte {range.From}, not at {have}; delete {partial} and pull again");
            long? total = resumed
                ? response.Content.Headers.ContentRange?.Length ?? (response.Content.Headers.ContentLength is { } rest ? have + rest : null)
                : response.Content.Headers.ContentLength;
            total ??= model.SizeBytes;
            if (model.SizeBytes is { } expected && total is { } announced && announced != expected)
                throw new GroundSharpException($"{model.Url} announces {announced} bytes, but {name} has {expected}: refusing a different file");

            await using (var body = await response.Content.ReadAsStreamAsync(cancel))
            await using (var file = new FileStream(partial, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                var buffer = new byte[1 << 16];
                long fetched = 0, written = have;
                progress?.Report(new DownloadProgress(written, total, 0, resumed));
                while (true)
                {
                    int n;
                    try { n = await body.ReadAsync(buffer, cancel); }
                    catch (Exception e) when (e is IOException or HttpRequestException)
                    {
                        throw new GroundSharpException($"{model.Url}: the transfer stopped after {written} bytes ({e.Message}); run the pull again to resume", e);
                    }
                    if (n == 0) break;
                    await file.WriteAsync(buffer.AsMemory(0, n), cancel);
                    fetched += n;
                    written += n;
                    if (total is { } t && written > t)
                        throw new GroundSharpException($"{model.Url} sent more than the {t} bytes announced; refusing the file");
                    progress?.Report(new DownloadProgress(written, total, fetched, resumed));
                }
                file.Flush(flushToDisk: true);
            }
        }
        return Finish(model, partial, model.Url);
    }

    /// <summary>Adds a file downloaded by hand (a share-page model) to the cache, with the same checks as a download.</summary>
    public string Import(string name, string file)
    {
        var model = Get(name);
        if (!File.Exists(file)) throw new GroundSharpException($"--file: {file} not found");
        Directory.CreateDirectory(FolderOf(model));
        var partial = PathOf(model) + PartialSuffix;
        File.Copy(file, partial, overwrite: true);
        return Finish(model, partial, Path.GetFullPath(file));
    }

    /// <summary>Checks the complete partial file's size and SHA-256, records them, then renames it into place.</summary>
    private string Finish(RegisteredModel model, string partial, string source)
    {
        long size = new FileInfo(partial).Length;
        if (model.SizeBytes is { } expected && size != expected)
        {
            File.Delete(partial);
            throw new GroundSharpException($"{source}: got {size} bytes, but {model.Name} has {expected}: the file is not the published one (deleted)");
        }
        var sha = Sha256Of(partial);
        if (model.Sha256 is not null && !sha.Equals(model.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            File.Delete(partial);
            throw new GroundSharpException($"{source}: SHA-256 {sha} differs from the manifest's {model.Sha256}: the file is corrupt (deleted); pull it again");
        }
        var path = PathOf(model);
        File.Move(partial, path, overwrite: true);
        AtomicFile.WriteJson(Path.Combine(FolderOf(model), RecordFile), new DownloadRecord(model.Name, source, size, sha, DateTimeOffset.UtcNow), Json);
        return path;
    }

    public static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>Human-readable byte counts for listings: 248.0 MB.</summary>
    public static string FormatBytes(long bytes) => bytes switch
    {
        >= 1_000_000_000 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e9:F2} GB"),
        >= 1_000_000 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e6:F1} MB"),
        >= 1_000 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e3:F1} kB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
    };
}
