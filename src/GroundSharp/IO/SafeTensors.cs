using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace GroundSharp.IO;

/// <summary>
/// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
/// <c>{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}</c>, then the tensor bytes
/// (little-endian, C order, offsets relative to the end of the header).
/// </summary>
/// <remarks>
/// Ownership: loaded tensors are fresh CPU tensors, contiguous, with the stored dtype, and belong to no TorchSharp
/// dispose scope; the caller disposes them. Saving only reads the given tensors.
/// </remarks>
public static class SafeTensors
{
    private const string MetadataKey = "__metadata__";
    private const long MaxHeaderBytes = 100_000_000; // the limit of the reference implementation

    /// <summary>Writes the tensors (in the dictionary's order) and optional string metadata, replacing the file atomically.</summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var entries = new List<(string Name, TorchDtype Dtype, long[] Shape, long Begin, long End)>();
        long offset = 0;
        foreach (var (name, tensor) in tensors)
        {
            if (name == MetadataKey) throw new GroundSharpException($"cannot write '{path}': '{MetadataKey}' is reserved and cannot name a tensor");
            var dtype = TorchDtype.FromScalarType(tensor.dtype, $"cannot write '{path}': tensor '{name}'");
            long size = tensor.numel() * dtype.ElementSize;
            entries.Add((name, dtype, tensor.shape, offset, offset + size));
            offset += size;
        }

        var header = BuildHeader(entries.Select(e => (e.Name, e.Dtype.SafeTensorsName, e.Shape, e.Begin, e.End)), metadata);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (var (name, tensor) in tensors)
            {
                using var scope = NewDisposeScope();
                // A nested scope only disposes what it creates here, never the caller's tensor.
                stream.Write(tensor.detach().cpu().contiguous().bytes);
            }
        });
    }

    private static byte[] BuildHeader(IEnumerable<(string Name, string Dtype, long[] Shape, long Begin, long End)> entries,
        IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            foreach (var (name, dtype, shape, begin, end) in entries)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", dtype);
                json.WriteStartArray("shape");
                foreach (var d in shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(begin);
                json.WriteNumberValue(end);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        // Pad with spaces so the byte buffer starts 8-byte aligned, as the reference implementation does.
        while (buffer.Length % 8 != 0) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    /// <summary>Reads only the header's metadata (empty when the file has none): cheap, for telling checkpoint kinds apart.</summary>
    public static Dictionary<string, string> ReadMetadata(string path)
    {
        CheckpointPath.RequireFile(path, "safetensors file");
        GroundSharpException Fail(string message) => new($"safetensors file '{path}': {message}");
        using var stream = File.OpenRead(path);
        using var header = ReadHeader(stream, Fail);
        return ReadMetadata(header, Fail);
    }

    /// <summary>The JSON header (a JSON object); leaves the stream at the start of the tensor bytes.</summary>
    private static JsonDocument ReadHeader(Stream stream, Func<string, GroundSharpException> fail)
    {
        long fileLength = stream.Length;
        if (fileLength < 8) throw fail($"is {fileLength} bytes long, too short for the 8-byte header length");
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > (ulong)(fileLength - 8) || headerLength > MaxHeaderBytes)
            throw fail($"header length {headerLength} exceeds the file ({fileLength} bytes) or the 100 MB limit; the file is corrupt or not safetensors");
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        JsonDocument header;
        try { header = JsonDocument.Parse(headerBytes); }
        catch (JsonException e) { throw fail($"header is not valid JSON: {e.Message}"); }
        if (header.RootElement.ValueKind != JsonValueKind.Object)
        {
            header.Dispose();
            throw fail("header is not a JSON object");
        }
        return header;
    }

    private static Dictionary<string, string> ReadMetadata(JsonDocument header, Func<string, GroundSharpException> fail)
    {
        var metadata = new Dictionary<string, string>();
        if (!header.RootElement.TryGetProperty(MetadataKey, out var value)) return metadata;
        if (value.ValueKind != JsonValueKind.Object) throw fail("'__metadata__' is not an object");
        foreach (var item in value.EnumerateObject())
            metadata[item.Name] = item.Value.ValueKind == JsonValueKind.String
                ? item.Value.GetString()!
                : throw fail($"metadata value '{item.Name}' is not a string");
        return metadata;
    }

    /// <summary>Reads all tensors (in header order) and the metadata (empty when the file has none).</summary>
    /// <exception cref="GroundSharpException">The file is missing, truncated, or its header is malformed; the message names
    /// the file and, where one is at fault, the tensor.</exception>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Load(string path)
    {
        CheckpointPath.RequireFile(path, "safetensors file");
        GroundSharpException Fail(string message) => new($"safetensors file '{path}': {message}");

        using var stream = File.OpenRead(path);
        long fileLength = stream.Length;
        using var header = ReadHeader(stream, Fail);
        long bufferStart = stream.Position;
        long bufferLength = fileLength - bufferStart;
        var metadata = ReadMetadata(header, Fail);
        var entries = new List<(string Name, TorchDtype Dtype, long[] Shape, long Begin, long End)>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in header.RootElement.EnumerateObject())
        {
            if (property.Name == MetadataKey) continue;
            if (!names.Add(property.Name)) throw Fail($"tensor '{property.Name}' is listed twice in the header");
            entries.Add(ParseEntry(property, bufferLength, Fail));
        }

        long previousEnd = 0;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin < previousEnd) throw Fail($"tensor '{e.Name}' overlaps another tensor's bytes (data_offsets [{e.Begin}, {e.End}])");
            previousEnd = e.End;
        }

        var tensors = new Dictionary<string, Tensor>();
        try
        {
            foreach (var e in entries)
            {
                var bytes = new byte[e.End - e.Begin];
                stream.Position = bufferStart + e.Begin;
                try { stream.ReadExactly(bytes); }
                catch (EndOfStreamException) { throw Fail($"tensor '{e.Name}' cannot be read: the file ends early"); }
                using var scope = NewDisposeScope();
                var tensor = empty(e.Shape, e.Dtype.ScalarType);
                if (bytes.Length > 0) tensor.bytes = bytes;
                tensors[e.Name] = tensor.DetachFromDisposeScope();
            }
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
        return (tensors, metadata);
    }

    private static (string Name, TorchDtype Dtype, long[] Shape, long Begin, long End) ParseEntry(
        JsonProperty property, long bufferLength, Func<string, GroundSharpException> fail)
    {
        var name = property.Name;
        var value = property.Value;
        if (value.ValueKind != JsonValueKind.Object) throw fail($"tensor '{name}': header entry is not an object");

        var dtypeName = value.TryGetProperty("dtype", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()! : null;
        var dtype = dtypeName is null ? null : TorchDtype.FromSafeTensorsName(dtypeName);
        if (dtype is null)
            throw fail($"tensor '{name}' has dtype '{dtypeName ?? "(missing)"}' (supported: {string.Join(", ", TorchDtype.All.Select(t => t.SafeTensorsName))})");

        var shape = ReadIntegers(value, "shape", name, fail);
        var offsets = ReadIntegers(value, "data_offsets", name, fail);
        if (offsets.Length != 2) throw fail($"tensor '{name}': data_offsets must be [begin, end]");
        long begin = offsets[0], end = offsets[1];
        if (begin > end || end > bufferLength)
            throw fail($"tensor '{name}': data_offsets [{begin}, {end}] lie outside the {bufferLength}-byte data buffer (truncated file?)");

        long expected;
        try { expected = shape.Aggregate((long)dtype.ElementSize, (a, s) => checked(a * s)); }
        catch (OverflowException) { throw fail($"tensor '{name}': shape [{string.Join(", ", shape)}] is too large"); }
        if (end - begin != expected)
            throw fail($"tensor '{name}': shape [{string.Join(", ", shape)}] of {dtype.SafeTensorsName} needs {expected} bytes, but data_offsets [{begin}, {end}] give {end - begin}");
        return (name, dtype, shape, begin, end);
    }

    private static long[] ReadIntegers(JsonElement entry, string field, string name, Func<string, GroundSharpException> fail)
    {
        if (!entry.TryGetProperty(field, out var array) || array.ValueKind != JsonValueKind.Array)
            throw fail($"tensor '{name}': '{field}' is missing or not an array");
        var values = new List<long>();
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out var v) || v < 0)
                throw fail($"tensor '{name}': '{field}' holds {item.GetRawText()}, not a non-negative integer");
            values.Add(v);
        }
        return values.ToArray();
    }
}
