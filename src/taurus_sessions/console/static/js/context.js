// The node a view works on, captured at the moment an action starts.
import { state, projectId, currentNode, nodeLabel } from './state.js';

export function nodeContext() {
  const node = currentNode();
  if (!node || !state.instanceId) return null;
  return {
    projectId: projectId(),
    instanceId: state.instanceId,
    nodeId: node.id,
    node,
    get nodeLabel() {
      return nodeLabel(node);
    },
  };
}
