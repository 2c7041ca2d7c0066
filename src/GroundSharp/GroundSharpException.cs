namespace GroundSharp;

/// <summary>
/// An error caused by the user's input (a file, a phrase, a config) rather than by a bug. The message names
/// the problem and the file; the CLI prints it as one line and exits non-zero, without a stack trace.
/// </summary>
public class GroundSharpException : Exception
{
    public GroundSharpException(string message) : base(message) { }
    public GroundSharpException(string message, Exception inner) : base(message, inner) { }
}
