using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace GroundSharp.Data.VisualGenome;

/// <summary>
/// A VG annotation file (a JSON array with one element per image) read in the order the images are asked
/// for. When the file is in that order (as VG's files are, in the order of <c>image_data.json</c>) every
/// request is served by the next element: one sequential pass, one element in memory. When it is not, the
/// elements read past while looking for the requested image are not kept, only their byte range (an index
/// entry of a few dozen bytes per image), and are re-read from the file with a positioned read when their
/// image is asked for. Memory therefore grows with the number of images read out of order, never with the
/// size of the file. An image the file does not have costs one scan to the end (after which every
/// remaining image is served from the index).
/// </summary>
internal sealed class ImageKeyedArrayFile<T> : IDisposable
{
    private readonly JsonArrayReader _reader;
    private readonly string _path;
    private readonly Func<JsonElement, int, long?> _imageIdOf;
    private readonly Func<JsonElement, int, T> _convert;
    private readonly Dictionary<long, (long Offset, int Length, int Index)> _readPast = new();
    private SafeFileHandle? _randomAccess;

    public ImageKeyedArrayFile(string path, Func<JsonElement, int, long?> imageIdOf, Func<JsonElement, int, T> convert)
    {
        _path = path;
        _reader = new JsonArrayReader(path);
        _imageIdOf = imageIdOf;
        _convert = convert;
    }

    /// <summary>Elements read past while looking for another image (the index that out-of-order files need).</summary>
    public int IndexedOutOfOrder => _readPast.Count;

    /// <summary>The largest buffer the sequential reader needed (bounded by the largest element).</summary>
    public int BufferCapacity => _reader.BufferCapacity;

    /// <summary>The converted element for <paramref name="imageId"/>, or default when the file has none.</summary>
    public bool TryTake(long imageId, out T value)
    {
        if (_readPast.Remove(imageId, out var at))
        {
            _randomAccess ??= File.OpenHandle(_path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
            var bytes = JsonArrayReader.ReadRange(_randomAccess, at.Offset, at.Length, _path);
            using var doc = _reader.Parse(new JsonArrayElement(at.Index, at.Offset, bytes));
            value = _convert(doc.RootElement, at.Index);
            return true;
        }
        while (_reader.TryReadNext(out var element))
        {
            using var doc = _reader.Parse(element);
            long id = _imageIdOf(doc.RootElement, element.Index)
                      ?? throw new GroundSharpException($"{_path}: element {element.Index}: no image id (\"image_id\" or \"id\")");
            if (id == imageId)
            {
                value = _convert(doc.RootElement, element.Index);
                return true;
            }
            if (!_readPast.TryAdd(id, (element.Offset, element.Utf8.Length, element.Index)))
                throw new GroundSharpException($"{_path}: element {element.Index}: image {id} appears twice (also element {_readPast[id].Index})");
        }
        value = default!;
        return false;
    }

    public void Dispose()
    {
        _reader.Dispose();
        _randomAccess?.Dispose();
    }
}
