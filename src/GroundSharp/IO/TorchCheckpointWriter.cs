using System.IO.Compression;
using System.Text;
using static TorchSharp.torch;

namespace GroundSharp.IO;

/// <summary>
/// Writes checkpoints in the zip format of PyTorch's <c>torch.save</c> (protocol-2 <c>archive/data.pkl</c>, one
/// <c>archive/data/KEY</c> record per storage, <c>archive/version</c>, <c>archive/byteorder</c>) that
/// <c>torch.load(path, weights_only=True)</c> reads. Files are replaced atomically. The tensors passed in are only read.
/// </summary>
public static class TorchCheckpointWriter
{
    /// <summary>Writes a bare state dict (an OrderedDict of name → tensor), like <c>torch.save(model.state_dict(), path)</c>.</summary>
    public static void SaveStateDict(string path, IReadOnlyDictionary<string, Tensor> stateDict) =>
        Save(path, ToOrderedDict(stateDict));

    /// <summary>
    /// Writes <c>{'model': state_dict, **extraEntries}</c>, the layout of ALBEF/AMC checkpoints. Extra values may be
    /// numbers, strings, bools, null, lists, <see cref="PickleTuple"/> and (nested) dicts.
    /// </summary>
    public static void SaveCheckpoint(string path, IReadOnlyDictionary<string, Tensor> stateDict,
        IEnumerable<KeyValuePair<string, object?>>? extraEntries = null)
    {
        var root = new PickleDict { ["model"] = ToOrderedDict(stateDict) };
        foreach (var (key, value) in extraEntries ?? [])
        {
            if (key == "model") throw new GroundSharpException($"cannot write '{path}': extra entry 'model' would replace the state dict");
            root[key] = value;
        }
        Save(path, root);
    }

    /// <summary>
    /// Writes any object tree of the kinds <see cref="TorchCheckpointReader.Load"/> returns: tensors, dicts
    /// (<see cref="PickleDict"/> keeps plain/Ordered; other dictionaries become plain dicts), lists, tuples,
    /// integers, floats, strings, bools and null. Tensors that view one storage are stored once, with their views.
    /// </summary>
    public static void Save(string path, object? root)
    {
        var pickler = new PickleWriter(path);
        try
        {
            var pickle = pickler.Write(root);
            AtomicFile.Write(path, stream =>
            {
                using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
                // torch's reader takes the archive folder name from the first record.
                AddRecord(zip, "archive/data.pkl", pickle);
                AddRecord(zip, "archive/byteorder", Encoding.ASCII.GetBytes("little"));
                foreach (var (key, storage) in pickler.Storages)
                    AddRecord(zip, "archive/data/" + key, storage.bytes);
                AddRecord(zip, "archive/version", Encoding.ASCII.GetBytes("3\n"));
            });
        }
        finally
        {
            foreach (var (_, storage) in pickler.Storages) storage.Dispose();
        }
    }

    private static PickleDict ToOrderedDict(IReadOnlyDictionary<string, Tensor> stateDict)
    {
        var dict = new PickleDict(isOrderedDict: true);
        foreach (var (key, tensor) in stateDict) dict[key] = tensor;
        return dict;
    }

    private static void AddRecord(ZipArchive zip, string name, ReadOnlySpan<byte> content)
    {
        // Stored, not deflated, like torch.save: lets PyTorch memory-map storages.
        var entry = zip.CreateEntry(name, CompressionLevel.NoCompression);
        using var stream = entry.Open();
        stream.Write(content);
    }
}
